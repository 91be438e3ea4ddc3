#!/usr/bin/env python3
"""Makes TorchSharp 0.107's native glue load on a system whose libstdc++ predates GCC 13 (Debian 12 has GCC 12).

    make_loadable.py NATIVE_DIR   # prints the library to LD_PRELOAD (empty when nothing had to be done)

libLibTorchSharp.so (in NATIVE_DIR, TorchSharp's runtimes/linux-x64/native as copied to the build output) needs one
symbol of version GLIBCXX_3.4.32, std::ios_base_library_init(), which GCC 13's libstdc++ added; Debian 12's stops at
GLIBCXX_3.4.30, so the library fails to load and TorchSharp cannot start. libtorch itself needs nothing newer. Here:
  1. the library's requirement of that version is marked weak (VER_FLG_WEAK in .gnu.version_r), so a libstdc++ without
     it is no longer fatal, and the symbol's own version is cleared (its .gnu.version entry set to global);
  2. the symbol is supplied by a tiny library compiled from ios_base_library_init.cpp (g++), to be LD_PRELOADed.
Only the glue's loading changes; no code that computes is touched. Idempotent; does nothing when libstdc++ is new enough.
"""
import os
import struct
import subprocess
import sys

VERSION = b"GLIBCXX_3.4.32"
SYMBOL = b"_ZSt21ios_base_library_initv"
SHT_DYNSYM, SHT_GNU_VERNEED, SHT_GNU_VERSYM = 11, 0x6FFFFFFE, 0x6FFFFFFF
VER_FLG_WEAK = 2


def libstdcxx_has(version):
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    paths = [l.split("=>")[-1].strip() for l in out.splitlines() if "libstdc++.so.6 " in l and "x86-64" in l]
    return any(version in open(p, "rb").read() for p in paths)


def sections(data):
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    out = []
    for i in range(shnum):
        name, typ, flags, addr, offset, size, link, info, align, entsize = struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
        out.append({"type": typ, "offset": offset, "size": size, "link": link, "info": info, "entsize": entsize})
    return out


def cstr(data, table, offset):
    start = table + offset
    return bytes(data[start:data.index(b"\0", start)])


def patch(path):
    data = bytearray(open(path, "rb").read())
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        sys.exit(f"{path}: not a little-endian ELF64 file")
    secs = sections(data)
    weakened = cleared = 0
    for s in secs:
        if s["type"] == SHT_GNU_VERNEED:
            strtab = secs[s["link"]]["offset"]
            pos = s["offset"]
            for _ in range(s["info"]):
                _, count, _, aux, nxt = struct.unpack_from("<HHIII", data, pos)
                apos = pos + aux
                for _ in range(count):
                    _, flags, _, name, anext = struct.unpack_from("<IHHII", data, apos)
                    if cstr(data, strtab, name) == VERSION:
                        struct.pack_into("<H", data, apos + 4, flags | VER_FLG_WEAK)
                        weakened += 1
                    apos += anext
                pos += nxt
    dynsym = next(s for s in secs if s["type"] == SHT_DYNSYM)
    versym = next(s for s in secs if s["type"] == SHT_GNU_VERSYM)
    strtab = secs[dynsym["link"]]["offset"]
    for i in range(dynsym["size"] // dynsym["entsize"]):
        name, = struct.unpack_from("<I", data, dynsym["offset"] + i * dynsym["entsize"])
        if cstr(data, strtab, name) == SYMBOL:
            struct.pack_into("<H", data, versym["offset"] + 2 * i, 1)  # VER_NDX_GLOBAL
            cleared += 1
    if weakened == 0 or cleared == 0:
        sys.exit(f"{path}: expected a {VERSION.decode()} requirement and the symbol {SYMBOL.decode()}; found {weakened} and {cleared}")
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def main():
    native = sys.argv[1]
    if libstdcxx_has(VERSION):
        return
    shim = os.path.join(native, "libios_base_library_init.so")
    if not os.path.exists(shim):
        source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ios_base_library_init.cpp")
        subprocess.run(["g++", "-O2", "-shared", "-fPIC", "-o", shim, source], check=True)
    patch(os.path.join(native, "libLibTorchSharp.so"))   # again after every build, which copies the original back
    print(shim)


if __name__ == "__main__":
    main()
