"""The one reader of checkpoint folders: the same tensors from either weight format."""

import shutil

import pytest
import torch

from llmbench.models import chatglm2
from llmbench.models.checkpoint import Checkpoint
from llmbench.models.weights import tensor_shapes


def test_safetensors_and_pytorch_model_bin_read_the_same_names_shapes_and_tensors(tiny_model, tmp_path):
    folder = tmp_path / "bin"
    shutil.copytree(tiny_model, folder)
    with Checkpoint(tiny_model) as safetensors:
        tensors = {name: safetensors.get(name) for name in safetensors.names()}
        codes = {safetensors.dtype(name) for name in tensors}
    (folder / "model.safetensors").unlink()
    torch.save(tensors, folder / "pytorch_model.bin")
    with Checkpoint(folder) as pickled:
        assert pickled.names() == list(tensors)
        for name, tensor in tensors.items():
            assert pickled.shape(name) == tuple(tensor.shape)
            assert torch.equal(pickled.get(name), tensor)
        assert {pickled.dtype(name) for name in tensors} == {"float32"}
    assert codes == {"F32"}  # safetensors' own code, as its header says
    assert chatglm2.load_weights(folder).keys() == tensors.keys()
    assert {k: s for k, (_, s) in tensor_shapes(folder).items()} == {
        k: s for k, (_, s) in tensor_shapes(tiny_model).items()
    }


def test_a_folder_without_weights_is_an_error_naming_both_formats(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"\*\.safetensors or pytorch_model\*\.bin"):
        Checkpoint(tmp_path)
