#!/usr/bin/env node
// An emulated RP2040 (rp2040js 1.4.1) running real MicroPython rp2 firmware, for the chip
// tests and the chip bench. host/chip.py starts it and drives it; it can also be run by hand:
//
//   node host/rp2040/emulator.js --firmware F.uf2 --bootrom B.bin [--fs fs.img] [--no-net]
//
// What it wires up:
// - flash: the UF2, and a littlefs image at 0x100000 (rp2040js cannot program flash, so the
//   files are put there before boot; writes from the device do not outlive this process);
// - the REPL: USB CDC, relayed to a TCP port on 127.0.0.1 (raw bytes; `mpremote connect
//   socket://127.0.0.1:PORT` works too);
// - UART0: through `socat` to `slirp-fullbolt` (host/rp2040/slirp.sh), a PPP peer in user
//   space: inside, 10.0.2.2 is the host's 127.0.0.1;
// - I2C0: a BME280 at 0x76, a register file (calibration words, chip id, measurements);
// - ADC channel 4 (the temperature sensor), the LED and any pin asked for: edges are
//   reported with the CPU cycle counter; the watchdog: a firing is reported, then the chip
//   reboots, as a real one would.
//
// Reports are JSON lines on stdout ({"ev": ...}); commands are JSON lines on stdin
// ({"cmd": ...}). Both are listed in host/chip.py.
'use strict';
const fs = require('fs');
const net = require('net');
const path = require('path');
const { spawn } = require('child_process');
const { RP2040, USBCDC, GPIOPinState, BasePeripheral } = require('rp2040js');

function argv() {
  const a = { net: true, fs: null, replPort: 0, pins: [25] };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i++) {
    const k = v[i];
    if (k === '--firmware') a.firmware = v[++i];
    else if (k === '--bootrom') a.bootrom = v[++i];
    else if (k === '--fs') a.fs = v[++i];
    else if (k === '--repl-port') a.replPort = Number(v[++i]);
    else if (k === '--no-net') a.net = false;
    else if (k === '--pins') a.pins = v[++i].split(',').map(Number);
    else throw new Error('unknown argument ' + k);
  }
  if (!a.firmware || !a.bootrom) throw new Error('--firmware and --bootrom are needed');
  return a;
}

const args = argv();

function report(ev) {
  process.stdout.write(JSON.stringify(ev) + '\n');
}

// ---------------------------------------------------------------- flash
const FLASH_FS = 0x100000; // the firmware's littlefs: 1 MiB from here (board-PICO_PPP)

function flashImage() {
  const img = new Uint8Array(16 * 1024 * 1024).fill(0xff);
  const uf2 = fs.readFileSync(args.firmware);
  for (let off = 0; off + 512 <= uf2.length; off += 512) {
    const b = uf2.subarray(off, off + 512);
    const dv = new DataView(b.buffer, b.byteOffset, 512);
    if (dv.getUint32(0, true) !== 0x0a324655 || dv.getUint32(4, true) !== 0x9e5d5157) continue;
    const addr = dv.getUint32(12, true);
    const size = dv.getUint32(16, true);
    img.set(b.subarray(32, 32 + size), addr - 0x10000000);
  }
  if (args.fs) {
    const f = fs.readFileSync(args.fs);
    if (f.length > 0x100000) throw new Error('filesystem image over 1 MiB');
    img.set(f, FLASH_FS);
  }
  return img;
}

const FLASH = flashImage();
const BOOTROM = (() => {
  const b = fs.readFileSync(args.bootrom);
  return new Uint32Array(b.buffer, b.byteOffset, b.length / 4);
})();

// ---------------------------------------------------------------- peripherals' state
// They live across reboots, as the parts on a board do.
const bme = new Uint8Array(256);
(function bmeDefaults() {
  // The worked example of Bosch's BMP280 datasheet (its temperature and pressure
  // calibration, which the BME280 shares) and humidity words as in tests/test_app.py.
  const dv = new DataView(bme.buffer);
  const words = [27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000];
  words.forEach((w, i) => dv.setInt16(0x88 + 2 * i, w, true));
  bme[0xa1] = 75; // dig_H1
  dv.setInt16(0xe1, 362, true); // dig_H2
  bme[0xe3] = 0; // dig_H3
  bme[0xe4] = 324 >> 4; // dig_H4 [11:4]
  bme[0xe5] = (324 & 15) | ((50 & 15) << 4); // dig_H4 [3:0], dig_H5 [3:0]
  bme[0xe6] = 50 >> 4; // dig_H5 [11:4]
  bme[0xe7] = 30; // dig_H6
  bme[0xd0] = 0x60; // chip id
  setMeasurement(415148, 519888, 30000);
})();

function setMeasurement(p, t, h) {
  bme.set([p >> 12, (p >> 4) & 255, (p & 15) << 4, t >> 12, (t >> 4) & 255, (t & 15) << 4, h >> 8, h & 255], 0xf7);
}

const adcValues = [0, 0, 0, 0, 876]; // 12-bit; 876 is 0.706 V on 3.3 V: 27 degC

// ---------------------------------------------------------------- the chip
let mcu = null;
let cdc = null;
let boots = 0;
let wallStart = 0n;
let cycleNanos = 8;
let uartOut = [];
let uartIn = []; // bytes from slirp waiting for room in the RX FIFO
let cdcIn = []; // bytes from the REPL client waiting for room in the CDC FIFO
let replSock = null;
let stopped = false;
let rtAlarm = null;
let pendingRead = null; // a read of the CDC OUT endpoint waiting for bytes (gap 3)

const UARTDR = 0x0, UARTICR = 0x44;
const TXINTR = 1 << 5, RTINTR = 1 << 6;

function patchUart(uart) {
  // rp2040js 1.4.1 gap 1: it asserts the TX interrupt on every check, even right after the
  // firmware cleared it, and MicroPython's first UART() hangs in an interrupt storm. Here
  // it is asserted when a byte is written to UARTDR (the FIFO empties at once) and stays
  // cleared after UARTICR.
  uart.checkInterrupts = function () {
    this.rp2040.setInterrupt(this.irq, !!(this.interruptStatus & this.interruptMask));
  };
  const write = uart.writeUint32.bind(uart);
  uart.writeUint32 = (offset, value) => {
    write(offset, value);
    if (offset === UARTDR) {
      uart.interruptStatus |= TXINTR;
      uart.checkInterrupts();
    }
  };
  // Gap 2: no receive-timeout interrupt (UARTRTINTR), which network.PPP's UART.IRQ_RXIDLE
  // needs. It is raised once after each burst fed in (feedUart) and, as on the PL011,
  // cleared by UARTICR or when a read empties the FIFO.
  const read = uart.readUint32.bind(uart);
  uart.readUint32 = (offset) => {
    const v = read(offset);
    if (offset === UARTDR && uart.rxFIFO.empty && uart.interruptStatus & RTINTR) {
      uart.interruptStatus &= ~RTINTR;
      uart.checkInterrupts();
    }
    return v;
  };
  uart.onByte = (b) => uartOut.push(b);
}

// Bytes from slirp enter the RX FIFO at the line's pace (10 bit times each at the baud
// rate the firmware set), as a real UART delivers them: fed all at once, they would
// overrun the firmware's ring buffer before network.PPP's poll gets to run.
let rxAlarm = null, rxScheduled = false;

function byteNanos() {
  const baud = mcu.uart[0].baudRate;
  return 1e10 / (baud > 0 && isFinite(baud) ? baud : 115200);
}

function feedUart() {
  if (rxScheduled || !uartIn.length) return;
  rxScheduled = true;
  rxAlarm.schedule(byteNanos());
}

function rxByte() {
  rxScheduled = false;
  const uart = mcu.uart[0];
  const full = uart.rxFIFO.full;
  if (uartIn.length && !full) uart.feedByte(uartIn.shift());
  if (!uartIn.length || full) {
    // The line goes idle, or the FIFO is full (the firmware's ring buffer is, and it
    // waits for network.PPP's poll): 32 bit times later, the receive timeout (gap 2),
    // which schedules that poll. Nothing is dropped: the bytes wait here.
    rtAlarm.schedule(3.2 * byteNanos());
  }
  if (uartIn.length) {
    rxScheduled = true;
    rxAlarm.schedule(full ? 4 * byteNanos() : byteNanos());
  }
}

function boot(reason) {
  mcu = new RP2040(); // its default clock: a SimulationClock, ticked by run()
  const clock = mcu.clock;
  mcu.loadBootrom(BOOTROM);
  mcu.flash.set(FLASH);
  mcu.logger = { debug() {}, info() {}, warn() {}, // unimplemented registers the firmware touches at boot: noise
    error(c, m) { report({ ev: 'log', level: 'error', src: c, msg: m }); } };
  mcu.core.PC = 0x10000000;
  patchUart(mcu.uart[0]);
  mcu.peripherals[0x40060] = new Rosc(mcu, 'ROSC_BASE');
  rxAlarm = clock.createAlarm(rxByte);
  rxScheduled = false;
  rtAlarm = clock.createAlarm(() => {
    const u = mcu.uart[0];
    u.interruptStatus |= RTINTR;
    u.checkInterrupts();
  });
  // I2C0: the BME280 at 0x76. Writes: the first byte is the register pointer.
  const i2c = mcu.i2c[0];
  let ptr = 0, first = false, ours = false;
  i2c.onStart = () => i2c.completeStart();
  i2c.onConnect = (addr, mode) => {
    ours = addr === 0x76;
    first = mode === 0;
    i2c.completeConnect(ours);
  };
  i2c.onWriteByte = (v) => {
    if (!ours) return i2c.completeWrite(false);
    if (first) { ptr = v; first = false; } else { bme[ptr] = v; ptr = (ptr + 1) & 255; }
    i2c.completeWrite(true);
  };
  i2c.onReadByte = () => {
    const v = ours ? bme[ptr] : 0xff;
    ptr = (ptr + 1) & 255;
    i2c.completeRead(v);
  };
  i2c.onStop = () => i2c.completeStop();
  mcu.adc.channelValues = adcValues;
  for (const p of args.pins) watchPin(p);
  const wd = mcu.peripherals[0x40058];
  wd.onWatchdogTrigger = () => {
    const forced = wd.reason === 2;
    report({ ev: forced ? 'reset' : 'watchdog', us: Math.round(clock.nanos / 1000), cycles: mcu.core.cycles });
    setImmediate(() => { boot(forced ? 'reset' : 'watchdog'); run(); });
    throw new Rebooted();
  };
  cdc = new USBCDC(mcu.usbCtrl);
  cdc.onDeviceConnected = () => report({ ev: 'usb', boots });
  cdc.onSerialData = (buf) => { if (replSock) replSock.write(Buffer.from(buf)); };
  // Gap 3: the host side of USBCDC answers each read of the OUT endpoint at once, with an
  // empty packet when it has nothing to send; TinyUSB re-arms the endpoint and takes the
  // next interrupt ~30 us later, so the core never sleeps and idle device time only passes
  // at emulation speed (0.3x), with ~36,000 USB interrupts a second counted in every cycle
  // figure. Here the read waits until there are bytes for it, as a real host's would.
  const usb = mcu.usbCtrl;
  const answerRead = usb.onEndpointRead;
  pendingRead = null;
  usb.onEndpointRead = (ep, size) => {
    if (ep === cdc.outEndpoint && cdc.txFIFO.empty) pendingRead = () => answerRead(ep, size);
    else answerRead(ep, size);
  };
  wallStart = process.hrtime.bigint();
  boots++;
  uartIn = [];
  report({ ev: 'boot', n: boots, reason });
}

class Rebooted extends Error {}

// Gap 4: rp2040js has no ring oscillator (ROSC reads 0), the pico SDK's get_rand_32() then
// has no entropy but the boot's timing, which is the same each boot: lwIP picks the same
// local port and initial sequence number after every reset, and slirp, still holding the
// old connection, drops the new SYNs. A running ROSC whose RANDOMBIT is random, as on
// silicon.
class Rosc extends BasePeripheral {
  constructor(rp2040, name) {
    super(rp2040, name);
    this.ctrl = (0xfab << 12) | 0xaa0; // enabled, low frequency range
  }
  readUint32(offset) {
    switch (offset) {
      case 0x00: return this.ctrl;
      case 0x18: return (1 << 31) | (1 << 12); // STATUS: stable, enabled
      case 0x1c: return Math.random() < 0.5 ? 1 : 0; // RANDOMBIT
    }
    return 0;
  }
  writeUint32(offset, value) {
    if (offset === 0x00) this.ctrl = value;
  }
}

function watchPin(p) {
  mcu.gpio[p].addListener((state) => {
    if (state === GPIOPinState.High || state === GPIOPinState.Low) {
      report({ ev: 'pin', pin: p, v: state === GPIOPinState.High ? 1 : 0, cycles: mcu.core.cycles,
        us: Math.round(mcu.clock.nanos / 1000) });
    }
  });
}

// ---------------------------------------------------------------- the run loop
// Instructions run in slices; between them I/O is serviced. While the core sleeps (WFI/WFE)
// the clock jumps to its next alarm, but never ahead of wall time, so that a timeout of one
// second on the device is at least a second on the host. While the core computes, device
// time runs at emulation speed (about 0.3x); that lag is not caught up later, beyond
// MAX_LAG: a busy boot followed by a wait for a CONNACK would otherwise see its timeout
// elapse in a fraction of the wall time (the device clock racing to catch up), and a host
// under load would make the device's timeouts fire early.
const MAX_LAG = 20e6; // ns

function flushUart() {
  if (uartOut.length && slirp) slirp.stdin.write(Buffer.from(uartOut));
  uartOut = [];
}

function run() {
  if (stopped) return;
  const { core, clock } = mcu;
  cycleNanos = 1e9 / (mcu.clkSys || 125000000);
  const until = performance.now() + 20;
  let idle = false;
  try {
    while (!idle && performance.now() < until) {
      feedUart();
      while (cdcIn.length && cdc.txFIFO.itemCount < 500) cdc.sendSerialByte(cdcIn.shift());
      if (pendingRead && !cdc.txFIFO.empty) {
        const answer = pendingRead;
        pendingRead = null;
        answer();
      }
      const wall = Number(process.hrtime.bigint() - wallStart);
      if (wall - clock.nanos > MAX_LAG) {
        wallStart += BigInt(Math.floor(wall - clock.nanos - MAX_LAG));
      }
      const allowed = Number(process.hrtime.bigint() - wallStart);
      for (let i = 0; i < 20000; i++) {
        if (core.waiting) {
          const room = allowed - clock.nanos;
          const next = clock.nanosToNextAlarm;
          if (room <= 0) { idle = true; break; }
          if (next > 0 && next <= room) {
            clock.tick(next);
          } else {
            clock.tick(room);
            idle = true;
            break;
          }
        } else {
          clock.tick(core.executeInstruction() * cycleNanos);
        }
      }
      flushUart();
    }
  } catch (e) {
    if (e instanceof Rebooted) return; // boot() runs next and restarts the loop
    throw e;
  }
  flushUart();
  if (idle) setTimeout(run, 1);
  else setImmediate(run);
}

// ---------------------------------------------------------------- network: socat + slirp
let slirp = null;
if (args.net) {
  const script = path.join(__dirname, 'slirp.sh');
  slirp = spawn('socat', ['STDIO', `EXEC:${script},pty,raw,echo=0`], { stdio: ['pipe', 'pipe', 'pipe'] });
  slirp.stdout.on('data', (d) => { for (const b of d) uartIn.push(b); });
  slirp.stderr.on('data', (d) => report({ ev: 'log', level: 'slirp', msg: d.toString() }));
  slirp.on('exit', (code) => { report({ ev: 'slirp-exit', code }); slirp = null; });
  slirp.stdin.on('error', () => {});
}

// ---------------------------------------------------------------- the REPL's port
const server = net.createServer((sock) => {
  if (replSock) replSock.destroy();
  replSock = sock;
  sock.setNoDelay(true);
  sock.on('data', (d) => { for (const b of d) cdcIn.push(b); });
  sock.on('close', () => { if (replSock === sock) replSock = null; });
  sock.on('error', () => {});
});

// ---------------------------------------------------------------- commands on stdin
let line = '';
process.stdin.on('data', (d) => {
  line += d.toString();
  let i;
  while ((i = line.indexOf('\n')) >= 0) {
    const text = line.slice(0, i);
    line = line.slice(i + 1);
    if (text.trim()) command(JSON.parse(text));
  }
});
process.stdin.on('end', stop);

function command(c) {
  switch (c.cmd) {
    case 'adc': adcValues[c.ch] = c.v; break;
    case 'bme280': setMeasurement(c.p, c.t, c.h); break;
    case 'i2c-regs': bme.set(Buffer.from(c.hex, 'hex'), c.at); break;
    case 'pin': watchPin(c.pin); args.pins.push(c.pin); break;
    case 'cycles': report({ ev: 'cycles', cycles: mcu.core.cycles, us: Math.round(mcu.clock.nanos / 1000), id: c.id }); break;
    case 'stop': stop(); break;
    default: report({ ev: 'log', level: 'error', msg: 'unknown command ' + c.cmd });
  }
}

function stop() {
  if (stopped) return;
  stopped = true;
  if (slirp) slirp.kill();
  server.close();
  if (replSock) replSock.destroy();
  report({ ev: 'exit', cycles: mcu.core.cycles });
  setTimeout(() => process.exit(0), 50);
}
process.on('SIGTERM', stop);

server.listen(args.replPort, '127.0.0.1', () => {
  report({ ev: 'ready', repl: server.address().port });
  boot('power-on');
  run();
});
