# Import RAM of a module after the application has made K names of its own:
#   micropython bench_import.py MODULE K
# Why: MicroPython keeps the names (qstrs) made at run time in pools that double as they
# fill (about 10 B an entry on a 64-bit port, 6 B on a 32-bit one). An import that fills the
# last pool allocates the next one, twice as big, and that whole block counts against the
# import; so the same .mpy measures up to ~4 KB apart depending only on how many names
# existed before it. tools/bench.py runs this for K = 0, 8, ..., 248 and prints the range and
# the median beside the one figure of bench_workload.py. The names are made before the
# measurement starts, and are kept (a qstr is never freed).
import sys
import gc

k = int(sys.argv[2])


class _Names:
    pass


o = _Names()
for i in range(k):
    setattr(o, "app_name_%d" % i, 0)  # setattr makes the name a qstr
o = None
gc.collect()
before = gc.mem_alloc()
__import__(sys.argv[1], None, None, ["MQTTClient"])
gc.collect()
print("import_ram", gc.mem_alloc() - before)
