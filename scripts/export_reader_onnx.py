"""Export a reader folder (models/reader-zh, made by scripts/train_reader.py) to ONNX for onnxruntime.

    pip install -e ".[train]"                                   # torch, transformers, onnx
    python scripts/export_reader_onnx.py models/reader-zh       # writes models/reader-zh/reader.onnx
    python scripts/export_reader_onnx.py models/reader-zh --variant fp32 --out /tmp/reader-fp32.onnx

The graph is the encoder and the span head (BertForQuestionAnswering over the folder's pruned vocabulary):
inputs `input_ids` and `attention_mask` (int64, batch x tokens), outputs `start_logits` and `end_logits`
(float32, batch x tokens), opset 17. It is fused for BERT by onnxruntime's transformer optimiser
(attention, skip layer norm, GELU) and then quantised per `--variant`:
- fp32: no quantisation;
- int8: dynamic int8 on every matrix product (per-tensor weights);
- int8-ffn-fp32: per-channel int8 weights, with the feed-forward output layers (whose inputs carry
  outliers of magnitude ~40), the embeddings and the span head kept in float32.
The default variant is the one chosen by measurement (README, Performance). The folder's other files
(config.json, tokenizer.json, normalisation.json, model.safetensors) are read, never changed. The ONNX
file records the variant and the sha256 of the model.safetensors it came from (a test checks they match).
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OPSET = 17
INPUTS = ("input_ids", "attention_mask")
OUTPUTS = ("start_logits", "end_logits")
VARIANTS = ("fp32", "int8", "int8-ffn-fp32")
# fp32: on all 1,035 held-back validation questions (stage 3 reader, spans up to 64 tokens) int8-ffn-fp32 lost 1.9 F1
# and 1.8 EM points (0.724/0.410 vs 0.743/0.428); fp32 reads in 1.2-1.35x its time and is 118 vs 76 MB (README, Performance).
DEFAULT_VARIANT = "fp32"


def weights_hash(folder: Path) -> str:
    return hashlib.sha256((Path(folder) / "model.safetensors").read_bytes()).hexdigest()


def export_torch(folder: Path, path: Path) -> None:
    """The float32 graph as torch traces it (TorchScript exporter: no onnxscript needed)."""
    import warnings

    import torch

    from rag.reader_model import load_qa_model

    model, _ = load_qa_model(folder)
    model.config._attn_implementation = "eager"  # plain MatMul/Softmax, which the optimiser fuses

    class SpanLogits(torch.nn.Module):
        def __init__(self, qa):
            super().__init__()
            self.qa = qa

        def forward(self, input_ids, attention_mask):
            out = self.qa(input_ids=input_ids, attention_mask=attention_mask)
            return out.start_logits, out.end_logits

    ids = torch.tensor([[0, 5, 6, 2, 2, 7, 8, 9, 2, 1]])
    mask = (ids != model.config.pad_token_id).long()
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS + OUTPUTS}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # TracerWarnings about shape-dependent Python branches in transformers
        torch.onnx.export(SpanLogits(model).eval(), (ids, mask), str(path), dynamo=False, opset_version=OPSET,
                          input_names=list(INPUTS), output_names=list(OUTPUTS), dynamic_axes=axes,
                          do_constant_folding=True)


def optimise(source: Path, path: Path, config: dict) -> None:
    from onnxruntime.transformers.optimizer import optimize_model

    model = optimize_model(str(source), model_type="bert", num_heads=config["num_attention_heads"],
                           hidden_size=config["hidden_size"], opt_level=0)
    model.save_model_to_file(str(path))


def matmuls(path: Path, weight_shape) -> list[str]:
    """Names of the MatMul nodes whose weight (an initializer) has a shape for which weight_shape(dims) holds."""
    import onnx

    graph = onnx.load(str(path)).graph
    shapes = {t.name: tuple(t.dims) for t in graph.initializer}
    return [n.name for n in graph.node if n.op_type == "MatMul" and any(i in shapes and weight_shape(shapes[i]) for i in n.input)]


def quantise(source: Path, path: Path, variant: str, config: dict) -> None:
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Shape inference cannot type the outputs of the fused com.microsoft ops; they are all float32.
    options = {"DefaultTensorType": TensorProto.FLOAT}
    if variant == "int8":
        quantize_dynamic(str(source), str(path), weight_type=QuantType.QInt8, per_channel=False, extra_options=options)
        return
    # The FFN output layers (intermediate -> hidden) and the span head (hidden -> 2) stay float32.
    keep = matmuls(source, lambda dims: dims[0] == config["intermediate_size"] or dims[-1] == 2)
    quantize_dynamic(str(source), str(path), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul", "Attention"], nodes_to_exclude=keep, extra_options=options)


def export(folder: Path, out: Path, variant: str = DEFAULT_VARIANT) -> Path:
    import json

    import onnx

    folder, out = Path(folder), Path(out)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        traced, fused, quantised = Path(tmp) / "traced.onnx", Path(tmp) / "fused.onnx", Path(tmp) / "quantised.onnx"
        export_torch(folder, traced)
        optimise(traced, fused, config)
        if variant != "fp32":
            quantise(fused, quantised, variant, config)
        model = onnx.load(str(fused if variant == "fp32" else quantised))
    model.metadata_props.clear()
    for key, value in {"variant": variant, "model.safetensors sha256": weights_hash(folder),
                       "exported by": "scripts/export_reader_onnx.py"}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="a reader folder: config.json, model.safetensors, tokenizer.json")
    parser.add_argument("--variant", choices=VARIANTS, default=DEFAULT_VARIANT)
    parser.add_argument("--out", type=Path, help="where to write the ONNX file (default FOLDER/reader.onnx)")
    args = parser.parse_args(argv)
    if not (args.folder / "model.safetensors").is_file() or not (args.folder / "config.json").is_file():
        parser.exit(1, f"error: {args.folder} is not a reader folder (config.json and model.safetensors); "
                       "make one with `python scripts/train_reader.py`\n")
    try:
        import onnx  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as error:
        from rag.errors import install_hint

        parser.exit(1, f"error: the export needs the train extra ({error.name} is missing): {install_hint('train')}\n")
    out = export(args.folder, args.out or args.folder / "reader.onnx", args.variant)
    print(f"wrote {out} ({args.variant}, {out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
