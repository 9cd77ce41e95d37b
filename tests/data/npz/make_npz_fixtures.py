"""Generates the small .npz archives used by tests/unit/test_npz.cpp.

Run once with /usr/bin/python3 (numpy) from this folder; the outputs are
checked in, the C++ tests never run Python. Each archive is a few KB.

Expected values are stored next to the data they check: for every dtype
member "<name>" there is a float32 member "<name>_as_f32" holding the same
values converted by numpy (bfloat16: from its bit pattern), so the C++
conversion is checked against numpy's, not against constants in the test.
"""
import io
import zipfile

import numpy as np

VALUES = [0.5, -1.25, 3.0, 1024.0, -0.0078125, 0.0]


def npy_bytes(array, version=(1, 0)):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, version=version, allow_pickle=True)
    return buf.getvalue()


def raw_npy(descr, shape, data, fortran=False, version=1):
    """An .npy member written by hand (descr strings numpy would refuse)."""
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        descr, "True" if fortran else "False",
        shape if isinstance(shape, str) else repr(tuple(shape)))
    prefix = 10 if version == 1 else 12
    pad = (64 - (prefix + len(header) + 1) % 64) % 64
    header = (header + " " * pad + "\n").encode("latin1")
    if version == 1:
        length = len(header).to_bytes(2, "little")
    else:
        length = len(header).to_bytes(4, "little")
    return b"\x93NUMPY" + bytes([version, 0]) + length + header + data


def bf16_member():
    # Bit patterns: 1.5, -2.0, pi rounded to bf16 (3.140625), the smallest
    # bf16 subnormal, +inf, 0.
    bits = np.array([0x3FC0, 0xC000, 0x4049, 0x0001, 0x7F80, 0x0000], dtype="<u2")
    as_f32 = (bits.astype(np.uint32) << 16).view(np.float32)
    return raw_npy("<V2", (6,), bits.tobytes()), as_f32


def typed_members():
    members = {
        "f32": np.array(VALUES, dtype="<f4").reshape(2, 3),
        "f64": np.array(VALUES + [1e-300], dtype="<f8"),
        # float16: includes the largest value and the smallest subnormal.
        "f16": np.array(VALUES + [65504.0, 2.0 ** -24], dtype="<f2"),
        "i32": np.array([1, -2, 2147483647, -2147483648], dtype="<i4"),
        "i64": np.array([1, -2, 2 ** 40, -(2 ** 40)], dtype="<i8"),
        "bool": np.array([True, False, True], dtype="|b1"),
        "scalar_f64": np.array(np.inf),
        "scalar_i64": np.array(42, dtype="<i8"),
        "scalar_bool": np.array(True),
        "text_ascii": np.array("triblockdiag_mha"),
        # Latin-1, BMP and astral-plane characters: UTF-32 in the file, UTF-8 for us.
        "text_unicode": np.array("Zürich ☀ 𝜋"),
        "text_empty": np.array(""),
    }
    for name in ("f64", "f16"):
        members[name + "_as_f32"] = members[name].astype(np.float32)
    members["i32_as_f32"] = members["i32"].astype(np.float32)
    return members


def write_zip(path, members, compression):
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        for name, data in members.items():
            z.writestr(name + ".npy", data if isinstance(data, bytes) else npy_bytes(data))


def main():
    typed = typed_members()
    bf16, bf16_f32 = bf16_member()
    np.savez("dtypes.npz", **typed, bf16_as_f32=bf16_f32)
    with zipfile.ZipFile("dtypes.npz", "a", compression=zipfile.ZIP_STORED) as z:
        z.writestr("bf16.npy", bf16)
    np.savez_compressed("dtypes_deflated.npz", **typed, bf16_as_f32=bf16_f32)
    with zipfile.ZipFile("dtypes_deflated.npz", "a", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("bf16.npy", bf16)

    ref = np.arange(12, dtype="<f4").reshape(3, 4) / 8
    write_zip("versions.npz", {
        "v1": npy_bytes(ref, (1, 0)),
        "v2": npy_bytes(ref, (2, 0)),
        "v3": npy_bytes(ref, (3, 0)),
        "v2_scalar_text": npy_bytes(np.array("GenCast"), (2, 0)),
        "expected": npy_bytes(ref),
    }, zipfile.ZIP_STORED)

    f32 = np.array([1, 2, 3], dtype="<f4").tobytes()
    write_zip("bad_members.npz", {
        "complex64": npy_bytes(np.array([1 + 2j], dtype="<c8")),
        "big_endian": npy_bytes(np.array([1, 2, 3], dtype=">f4")),
        "object": npy_bytes(np.array([1, "a"], dtype=object)),
        "corrupt_header": raw_npy("<f4", (3,), f32).replace(b"'descr': '<f4'", b"'dtype': '<f4'"),
        "bad_magic": b"NOTNUMPY" + f32,
        "bad_version": raw_npy("<f4", (3,), f32).replace(b"NUMPY\x01", b"NUMPY\x07", 1),
        "truncated_data": raw_npy("<f4", (100,), f32),
        "fortran_order": raw_npy("<f4", (2, 3), f32 * 2, fortran=True),
        "bad_shape": raw_npy("<f4", "(3, x)", f32),
        "good": npy_bytes(np.array([1, 2, 3], dtype="<f4")),
    }, zipfile.ZIP_STORED)

    whole = open("dtypes.npz", "rb").read()
    open("truncated.npz", "wb").write(whole[: len(whole) // 2])
    open("not_a_zip.npz", "wb").write(b"this is a text file, not a numpy archive\n")


if __name__ == "__main__":
    main()
