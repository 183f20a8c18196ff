# BME280 (temperature, pressure, humidity) over I2C, with Bosch's integer compensation
# formulas from the datasheet (BST-BME280-DS002, section 4.2.3): results are ints, in
# 0.01 degC, 0.01 hPa (= Pa) and 0.1 %RH.


def _s16(b, i):
    v = b[i] | b[i + 1] << 8
    return v - 65536 if v > 32767 else v


def _s8(v):
    return v - 256 if v > 127 else v


class BME280:
    def __init__(self, i2c, addr=0x76):
        self.i2c = i2c
        self.addr = addr
        self.raw = bytearray(8)
        c = bytearray(26)
        i2c.readfrom_mem_into(addr, 0x88, c)
        h = bytearray(7)
        i2c.readfrom_mem_into(addr, 0xE1, h)
        self.calibrate(c, h)
        i2c.writeto_mem(addr, 0xF2, b"\x01")  # humidity oversampling x1
        i2c.writeto_mem(addr, 0xF4, b"\x27")  # temperature x1, pressure x1, normal mode
        i2c.writeto_mem(addr, 0xF5, b"\xa0")  # standby 1 s, filter off
        self.t = self.p = self.h = 0

    def calibrate(self, c, h):
        # c: registers 0x88..0xA1, h: 0xE1..0xE7 (datasheet table 16).
        self.T1 = c[0] | c[1] << 8
        self.T2 = _s16(c, 2)
        self.T3 = _s16(c, 4)
        self.P1 = c[6] | c[7] << 8
        self.P = [_s16(c, 8 + 2 * i) for i in range(8)]  # dig_P2..dig_P9
        self.H1 = c[25]
        self.H2 = _s16(h, 0)
        self.H3 = h[2]
        self.H4 = _s8(h[3]) << 4 | h[4] & 0x0F
        self.H5 = _s8(h[5]) << 4 | h[4] >> 4
        self.H6 = _s8(h[6])

    def sample(self):
        # One burst read of pressure, temperature and humidity (0xF7..0xFE).
        r = self.raw
        self.i2c.readfrom_mem_into(self.addr, 0xF7, r)
        self.t = self.temperature(r[3] << 12 | r[4] << 4 | r[5] >> 4)
        self.p = self.pressure(r[0] << 12 | r[1] << 4 | r[2] >> 4) >> 8
        self.h = self.humidity(r[6] << 8 | r[7]) * 10 >> 10

    def temp_c(self):
        self.sample()  # the first sensor of the three reads the chip; the others reuse it
        return self.t

    def hpa(self):
        return self.p  # Pa, which is hPa with 2 decimals

    def hum_pct(self):
        return self.h

    def temperature(self, adc):
        # Returns 0.01 degC; sets t_fine, which pressure and humidity use.
        T1 = self.T1
        v1 = (((adc >> 3) - (T1 << 1)) * self.T2) >> 11
        v2 = (((((adc >> 4) - T1) * ((adc >> 4) - T1)) >> 12) * self.T3) >> 14
        self.t_fine = v1 + v2
        return (self.t_fine * 5 + 128) >> 8

    def pressure(self, adc):
        # Returns Pa as Q24.8 (the 64-bit formula).
        P2, P3, P4, P5, P6, P7, P8, P9 = self.P
        v1 = self.t_fine - 128000
        v2 = v1 * v1 * P6
        v2 = v2 + ((v1 * P5) << 17)
        v2 = v2 + (P4 << 35)
        v1 = ((v1 * v1 * P3) >> 8) + ((v1 * P2) << 12)
        v1 = (((1 << 47) + v1) * self.P1) >> 33
        if v1 == 0:
            return 0  # avoids a division by zero
        p = 1048576 - adc
        p = (((p << 31) - v2) * 3125) // v1
        v1 = (P9 * (p >> 13) * (p >> 13)) >> 25
        v2 = (P8 * p) >> 19
        return ((p + v1 + v2) >> 8) + (P7 << 4)

    def humidity(self, adc):
        # Returns %RH as Q22.10.
        v = self.t_fine - 76800
        v = (
            (((adc << 14) - (self.H4 << 20) - (self.H5 * v)) + 16384) >> 15
        ) * (
            (
                (
                    (((v * self.H6) >> 10) * (((v * self.H3) >> 11) + 32768)) >> 10
                )
                + 2097152
            )
            * self.H2
            + 8192
        ) >> 14
        v = v - (((((v >> 15) * (v >> 15)) >> 7) * self.H1) >> 4)
        v = 0 if v < 0 else 419430400 if v > 419430400 else v
        return v >> 12


def sensors(i2c, addr=0x76):
    # The board's sensor entries for a BME280 on this bus, or none (said) if it is absent.
    try:
        bme = BME280(i2c, addr)
    except OSError as e:
        print("board: no BME280 at 0x%02x:" % addr, e)
        return []
    return [("temp_c", 2, bme.temp_c), ("hum_pct", 1, bme.hum_pct), ("hpa", 2, bme.hpa)]
