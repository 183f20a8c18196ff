# One reading cycle as a compact JSON object, written into a buffer made once.
#
# Each field has a fixed width and its number is right-aligned in it, padded with spaces
# (JSON allows whitespace between tokens), so the message always has the same length and
# the whole buffer is the payload: no slicing, no formatting with %, nothing allocated.
#   {"seq":     42,"cpu_c":  41.25,"temp_c":  22.50,"errors":     0}
# A value that is missing (a failed sensor) or does not fit its field is written as null.


class Payload:
    def __init__(self, fields):
        # fields: (name, width, decimals) for each value, in order.
        self.slots = []  # (end offset, width, decimals)
        text = "{"
        for name, width, dec in fields:
            text += '"%s":' % name + " " * width + ","
            self.slots.append((len(text) - 1, width, dec))
        self.buf = bytearray((text[:-1] + "}").encode())

    def put(self, i, v):
        # Writes v, an int in units of 10**-decimals (2508 with 2 decimals is 25.08).
        end, width, dec = self.slots[i]
        buf = self.buf
        j = end
        if v is not None:
            neg = v < 0
            if neg:
                v = -v
            need = dec + (dec > 0) + neg + 1  # at least one digit before the point
            t = v // 10**dec
            while t >= 10:
                t //= 10
                need += 1
            if need > width:
                v = None  # does not fit
        if v is None:
            j -= 4
            buf[j:end] = b"null"
        else:
            for k in range(dec + 1):
                if k == dec and dec:
                    j -= 1
                    buf[j] = 46  # '.'
                j -= 1
                buf[j] = 48 + v % 10
                v //= 10
            while v:
                j -= 1
                buf[j] = 48 + v % 10
                v //= 10
            if neg:
                j -= 1
                buf[j] = 45  # '-'
        while j > end - width:
            j -= 1
            buf[j] = 32
