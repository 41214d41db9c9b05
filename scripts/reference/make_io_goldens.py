#!/usr/bin/python3
"""Golden files for tests/io, written independently of the C++ code under test.

  * .npy files are written by numpy itself (np.save / numpy.lib.format.write_array).
  * .safetensors files are written by hand from the format's specification (torch 1.13 has no
    safetensors), laid out exactly as the Rust library's serializer does: tensors sorted by
    descending dtype (the order of its Dtype enum) then name, compact JSON with "__metadata__"
    first and fields in the order dtype, shape, data_offsets, the header padded with spaces to a
    multiple of 8 bytes.
  * expected.json holds what the tests must read back: dtype, shape and values as numpy/torch see
    them (bf16 rounding by torch, f16 and f64 -> f32 conversion by numpy).

Run with Debian's python (numpy 1.24, torch 1.13):
    /usr/bin/python3 scripts/reference/make_io_goldens.py
"""
import json
import pathlib
import struct

import numpy as np
import torch

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "io" / "data"

# Position in the Rust library's Dtype enum ("increasing alignment order"); only the order matters.
RUST_DTYPE_ORDER = ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ",
                    "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64"]


def safetensors_bytes(tensors, metadata=None, pad_header=True):
    """tensors: list of (name, dtype, shape, raw little-endian bytes)."""
    ordered = sorted(tensors, key=lambda t: (-RUST_DTYPE_ORDER.index(t[1]), t[0].encode()))
    header = {}
    if metadata:
        header["__metadata__"] = dict(sorted(metadata.items()))
    offset = 0
    for name, dtype, shape, raw in ordered:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if pad_header:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(raw for _, _, _, raw in ordered)


def entry(name, dtype, array, values):
    """One tensor: its file entry and what the tests expect to read (values as f32/int Python numbers)."""
    raw = array.tobytes()
    return (name, dtype, array.shape, raw), {"dtype": dtype, "shape": list(array.shape), "values": values}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(20240611)
    expected = {}

    # tiny.safetensors: the dtypes ttl::Tensor has, an empty and a 0-d tensor, metadata.
    # Its layout is the one save_safetensors must reproduce byte for byte.
    weight = torch.randn(3, 4, generator=gen)
    norm = torch.randn(5, generator=gen).bfloat16()
    ids = np.array([0, -1, 2**62 + 1, -(2**40) - 3], dtype="<i8")
    counts = np.array([[1, -2], [2**31 - 1, -(2**31)]], dtype="<i4")
    empty = np.zeros((0, 3), dtype="<f4")
    scalar = np.array(0.15625, dtype="<f4")
    items = [
        entry("model.embed.weight", "F32", weight.numpy(), weight.numpy().ravel().tolist()),
        entry("model.norm.weight", "BF16", norm.view(torch.int16).numpy(), norm.float().numpy().tolist()),
        entry("ids", "I64", ids, ids.tolist()),
        entry("counts", "I32", counts, counts.ravel().tolist()),
        entry("empty", "F32", empty, []),
        entry("scale", "F32", scalar, [float(scalar)]),
    ]
    metadata = {"format": "pt", "source": "scripts/reference/make_io_goldens.py"}
    (OUT / "tiny.safetensors").write_bytes(safetensors_bytes([t for t, _ in items], metadata))
    expected["tiny.safetensors"] = {"metadata": metadata, "tensors": {t[0]: e for t, e in items}}

    # convert.safetensors: dtypes tensor_f32 widens or narrows (F16 with a subnormal and the largest
    # finite half, F64 with values that round), next to BF16 and F32.
    half = np.array([1.5, -2.0, 6.0e-6, 65504.0, -0.0], dtype="<f2")
    double = np.array([0.1, -1.0e-40, 3.4028235e38, 1.0 / 3.0], dtype="<f8")
    brain = torch.tensor([1.0, -3.14159, 1.0e-3]).bfloat16()
    single = np.array([[0.5, -0.25]], dtype="<f4")
    items = [
        entry("half", "F16", half, half.astype(np.float32).tolist()),
        entry("double", "F64", double, double.astype(np.float32).tolist()),
        entry("brain", "BF16", brain.view(torch.int16).numpy(), brain.float().numpy().tolist()),
        entry("single", "F32", single, single.ravel().tolist()),
    ]
    (OUT / "convert.safetensors").write_bytes(safetensors_bytes([t for t, _ in items]))
    expected["convert.safetensors"] = {"metadata": {}, "tensors": {t[0]: e for t, e in items}}

    # unpadded.safetensors: a writer that does not pad its header (allowed by the format) leaves the
    # F32 tensor at an address that is not 4-byte aligned.
    odd = np.array([1.25, -7.5, 1024.0], dtype="<f4")
    items = [entry("odd", "F32", odd, odd.tolist())]
    data = safetensors_bytes([t for t, _ in items], pad_header=False)
    assert (8 + struct.unpack("<Q", data[:8])[0]) % 4 != 0, "the golden must misalign its data section"
    (OUT / "unpadded.safetensors").write_bytes(data)
    expected["unpadded.safetensors"] = {"metadata": {}, "tensors": {t[0]: e for t, e in items}}

    # .npy files, as numpy writes them.
    rng = np.random.default_rng(7)
    f32 = rng.standard_normal((2, 3)).astype("<f4")
    arrays = {
        "f32_2x3.npy": ("F32", f32, f32),
        "i32_4.npy": ("I32", np.array([3, -4, 2**31 - 1, -(2**31)], dtype="<i4"), None),
        "i64_2x2x2.npy": ("I64", np.arange(8, dtype="<i8").reshape(2, 2, 2) * (2**40) - 5, None),
        "f32_scalar.npy": ("F32", np.array(-2.75, dtype="<f4"), None),
        "f32_empty.npy": ("F32", np.zeros((0,), dtype="<f4"), None),
        "f64_3.npy": ("F32", np.array([0.1, -1.0e-40, 1.0 / 3.0], dtype="<f8"), None),
    }
    expected["npy"] = {}
    for name, (dtype, array, _) in arrays.items():
        np.save(OUT / name, array)
        values = array.astype(np.float32) if array.dtype == np.float64 else array
        expected["npy"][name] = {"dtype": dtype, "shape": list(array.shape), "values": values.ravel().tolist()}

    # Version 2.0 and 3.0 headers (numpy picks them only for huge or non-latin-1 headers; force them).
    for version in [(2, 0), (3, 0)]:
        name = f"f32_v{version[0]}.npy"
        with open(OUT / name, "wb") as f:
            np.lib.format.write_array(f, f32, version=version)
        expected["npy"][name] = {"dtype": "F32", "shape": list(f32.shape), "values": f32.ravel().tolist()}

    # Files the reader must refuse, with the reason the test checks for.
    np.save(OUT / "f32_fortran.npy", np.asfortranarray(f32))
    np.save(OUT / "f32_bigendian.npy", f32.astype(">f4"))
    np.save(OUT / "u8_3.npy", np.array([1, 2, 3], dtype="u1"))

    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
