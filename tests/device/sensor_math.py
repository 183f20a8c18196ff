# The sensor math on the unix port: prints what the host compares with CPython's answers.
from bme280 import BME280
from chiptemp import rp2040_centi, fahrenheit_centi
from reading import Payload



class Calibrated(BME280):
    def __init__(self):  # no chip: the calibration is set by hand below
        pass


b = Calibrated()
b.T1, b.T2, b.T3 = 27504, 26435, -1000
b.P1, b.P = 36477, [-10685, 3024, 2855, 140, -7, 15500, -14600, 6000]
b.H1, b.H2, b.H3, b.H4, b.H5, b.H6 = 75, 362, 0, 324, 50, 30
print("T", b.temperature(519888), b.t_fine)
print("P", b.pressure(415148))
print("H", b.humidity(30000))
print("rp2040", rp2040_centi(14022), rp2040_centi(13000), rp2040_centi(0))
print("F", fahrenheit_centi(212), fahrenheit_centi(32), fahrenheit_centi(-40))
p = Payload([("a", 6, 0), ("b", 7, 2), ("c", 5, 1)])
for vals in ((1, 2508, -5), (-99999, 0, 99999), (123456, -1, None)):
    for i in range(3):
        p.put(i, vals[i])
    print("payload", bytes(p.buf).decode())
