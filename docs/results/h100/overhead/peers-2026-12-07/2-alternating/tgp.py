import ctypes, sys, importlib
for m in sys.argv[2].split(","):
    if m: importlib.import_module(m)
args = [b"tgp", sys.argv[1].encode(), b"8", b"bench:threads=16", b"graph-mask:threads=16,sample=4"]
lib = ctypes.CDLL("/tmp/tgp.so")
lib.tg_main(len(args), (ctypes.c_char_p * len(args))(*args))
sys.stdout.flush()
