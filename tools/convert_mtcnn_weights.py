"""Rebuild ``plugins/facevox_expression/weights/mtcnn.safetensors`` from the facenet-pytorch wheel.

The MTCNN weights (Zhang et al. 2016; MIT licence) ship inside the ``facenet-pytorch`` wheel
(MIT licence) as three PyTorch state dicts, ``facenet_pytorch/data/{pnet,rnet,onet}.pt``. The
package itself cannot be a dependency (it pins torch < 2.3), so this tool reads the three files
straight from the wheel (``torch.load(weights_only=True)``: tensors only, no pickled code),
prefixes their keys with ``pnet.`` / ``rnet.`` / ``onet.``, stores them in fp16 and prints the
file's SHA-256 for :data:`facevox_expression.mtcnn.WEIGHTS_SHA256`::

    pip download --no-deps facenet-pytorch==2.6.0 -d /tmp/wheels
    python tools/convert_mtcnn_weights.py /tmp/wheels/facenet_pytorch-2.6.0-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import hashlib
import io
import zipfile
from pathlib import Path

import torch
from facevox.io import atomic_path
from facevox_expression.mtcnn import MTCNNNets
from safetensors.torch import save_file

OUT = Path(__file__).resolve().parents[1] / "plugins" / "facevox_expression" / "weights" / "mtcnn.safetensors"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wheel", type=Path, help="facenet_pytorch-*.whl")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    state = {}
    with zipfile.ZipFile(args.wheel) as wheel:
        for net in ("pnet", "rnet", "onet"):
            tensors = torch.load(io.BytesIO(wheel.read(f"facenet_pytorch/data/{net}.pt")), weights_only=True)
            state.update({f"{net}.{k}": v.to(torch.float16).contiguous() for k, v in tensors.items()})
    MTCNNNets().load_state_dict(state)  # strict: every key and shape must fit
    with atomic_path(args.out) as tmp:
        save_file(state, str(tmp), metadata={"source": "facenet-pytorch 2.6.0 (MIT); MTCNN, Zhang et al. 2016 (MIT)"})
    print(args.out, hashlib.sha256(args.out.read_bytes()).hexdigest())


if __name__ == "__main__":
    main()
