"""Storage: the on-disk Oxigraph store, the asynchronous writer and its sinks, the Oxigraph server."""
