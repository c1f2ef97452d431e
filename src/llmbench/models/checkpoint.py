"""The one reader of checkpoint folders: the tensors of one weight format, read one at a time.

A folder's weights are its safetensors files (through model.safetensors.index.json
when there is one, else every top-level *.safetensors), or else the published
ChatGLM2's pytorch_model*.bin (through pytorch_model.bin.index.json likewise);
never both formats, never subfolders such as original/. The GGUF export streams
tensors from it, the port to GLM reads them all, the weight count reads only
names, shapes and stored dtypes (no tensor data)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path


class Checkpoint:
    """The tensors of a folder, read one at a time: safetensors (safe_open) or
    pytorch_model*.bin (torch.load, memory-mapped). One weight file is open at a
    time, so its mapped pages are let go when the next file is opened."""

    def __init__(self, folder: str | Path):
        folder = Path(folder)
        self._file_of: dict[str, Path] = {}
        self._shapes: dict[str, tuple[int, ...]] = {}
        self._dtypes: dict[str, str] = {}
        self._open_path: Path | None = None
        self._open: object = None
        self._stack = contextlib.ExitStack()
        self._safetensors = bool(_weight_files(folder, "model.safetensors.index.json", "*.safetensors"))
        files = _weight_files(folder, "model.safetensors.index.json", "*.safetensors") or _weight_files(
            folder, "pytorch_model.bin.index.json", "pytorch_model*.bin"
        )
        if not files:
            raise FileNotFoundError(f"{folder} has no weights (*.safetensors or pytorch_model*.bin)")
        for path in files:
            handle = self._handle(path)
            for name in self._keys(handle):
                self._file_of[name] = path
                self._shapes[name], self._dtypes[name] = self._shape_and_dtype(handle, name)

    def _handle(self, path: Path):
        if path != self._open_path:
            self.close()
            if self._safetensors:
                from safetensors import safe_open

                self._open = self._stack.enter_context(safe_open(str(path), framework="pt"))
            else:
                import torch

                try:  # memory-mapped: pages are read when a tensor is
                    self._open = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
                except RuntimeError:  # the legacy (non-zip) format cannot be mapped
                    self._open = torch.load(path, map_location="cpu", weights_only=True)
            self._open_path = path
        return self._open

    def _keys(self, handle) -> list[str]:
        return list(handle.keys())

    def _shape_and_dtype(self, handle, name: str) -> tuple[tuple[int, ...], str]:
        if self._safetensors:
            tensor = handle.get_slice(name)
            return tuple(tensor.get_shape()), tensor.get_dtype()
        tensor = handle[name]
        return tuple(tensor.shape), str(tensor.dtype).removeprefix("torch.")

    def names(self) -> list[str]:
        """Every tensor name, in weight-file order."""
        return list(self._shapes)

    def shape(self, name: str) -> tuple[int, ...]:
        """The shape of tensor `name`, without reading it; raises KeyError for an unknown name."""
        return self._shapes[name]

    def dtype(self, name: str) -> str:
        """How tensor `name` is stored, without reading it: a safetensors code (``F16``, ``I64``) or
        a torch dtype's name (``float16``); raises KeyError for an unknown name."""
        return self._dtypes[name]

    def get(self, name: str):
        """Tensor `name`, opening its weight file (and closing the one open before) if needed;
        raises KeyError for an unknown name. Returns a torch.Tensor."""
        handle = self._handle(self._file_of[name])
        if self._safetensors:
            return handle.get_tensor(name)
        return handle[name]

    def close(self) -> None:
        """Close the open weight file; get() opens one again as needed."""
        self._stack.close()
        self._stack = contextlib.ExitStack()
        self._open, self._open_path = None, None

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _weight_files(folder: Path, index_name: str, pattern: str) -> list[Path]:
    index = folder / index_name
    if index.is_file():
        weight_map = json.loads(index.read_text())["weight_map"]
        return [folder / f for f in dict.fromkeys(weight_map.values())]
    return sorted(folder.glob(pattern))
