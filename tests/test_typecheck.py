"""Device and board code type-checked against each board's own stubs (pyright, offline)."""
import os
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "tools"))
import typecheck  # noqa: E402

STUBS = os.path.join(ROOT, ".stubs")


@pytest.mark.parametrize("board", ["esp32", "rp2040"])
def test_device_and_board_code_type_checks(board, capsys):
    rc = typecheck.check(board, typecheck.ensure_stubs(board, STUBS))
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "11 files checked, 0 errors" in out


def test_the_check_fails_on_code_a_board_cannot_run(tmp_path, capsys):
    bad = tmp_path / "bad.py"
    bad.write_text("import esp32\nimport threading\nfrom machine import Pin\nPin(2).nonexistent()\n")
    rc = typecheck.check("rp2040", typecheck.ensure_stubs("rp2040", STUBS), [str(bad)])
    out = capsys.readouterr().out
    assert rc == 1
    assert '"esp32" could not be resolved' in out  # no host module passes unnoticed
    assert '"threading" could not be resolved' in out
    assert "nonexistent" in out


def test_the_ppp_board_type_checks_against_the_rp2_stubs(capsys):
    # boards/rp2040_ppp: the same RP2040 with network.PPP on UART0 (it also runs in
    # tests/test_chip.py, on the emulated chip).
    rc = typecheck.check("rp2040_ppp", typecheck.ensure_stubs("rp2040", STUBS))
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "11 files checked, 0 errors" in out
