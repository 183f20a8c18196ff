# On-chip temperature conversions, as ints in 0.01 degC (no floats: they allocate).


def rp2040_centi(raw_u16):
    # RP2040 datasheet 4.9.5: T = 27 - (V - 0.706) / 0.001721, V from ADC channel 4
    # with a 3.3 V reference; read_u16() scales the 12-bit reading to 16 bits.
    uv = raw_u16 * 3300000 // 65535
    return 2700 - (uv - 706000) * 100 // 1721


def fahrenheit_centi(f):
    # The original ESP32's esp32.raw_temperature() is in degF.
    return (f - 32) * 500 // 9
