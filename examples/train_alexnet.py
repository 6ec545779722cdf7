"""Train AlexNet with provenance capture, as in the reference experiment.

    python examples/train_alexnet.py --epochs 5 --lr 0.01 --batch-size 16 --split 0.8
    python examples/train_alexnet.py --data /path/to/flowers17/jpg --input-size 224 --width 1.0

Without --data it trains on generated shapes that need no download. TensorFlow uses the GPU when it
sees one. Afterwards: `cnnprov query epoch-loss-time --store provenance`.
"""

from __future__ import annotations

import argparse
import json

from cnnprov_rdf.demo.training import TrainingConfig, train_alexnet
from cnnprov_rdf.storage.store import default_store_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", default=str(default_store_path()), help="provenance store directory")
    parser.add_argument("--no-capture", action="store_true", help="train without recording provenance")
    parser.add_argument("--data", help="Oxford Flowers 17 folder (1,360 jpg files); default: generated shapes")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=0.01, help="initial learning rate")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--split", type=float, default=0.8, help="fraction of images used for training")
    parser.add_argument("--decay-factor", type=float, default=0.5, help="step decay: multiply the rate by m …")
    parser.add_argument("--decay-every", type=int, default=2, help="… every n epochs")
    parser.add_argument("--input-size", type=int, default=64, help="image side in pixels (paper: 224)")
    parser.add_argument("--width", type=float, default=0.125, help="width multiplier (paper: 1.0)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-model", help="save the trained model to this .keras file (recorded)")
    args = parser.parse_args()
    config = TrainingConfig(
        epochs=args.epochs, learning_rate=args.lr, batch_size=args.batch_size, split=args.split,
        decay_factor=args.decay_factor, decay_every=args.decay_every, input_size=args.input_size,
        width=args.width, data_dir=args.data, seed=args.seed, save_model=args.save_model,
    )
    outcome = train_alexnet(config, store=None if args.no_capture else args.store)
    print(json.dumps({"run_id": outcome.run_id, "test": outcome.test_metrics,
                      "final_loss": outcome.history["loss"][-1]}, indent=2))


if __name__ == "__main__":
    main()
