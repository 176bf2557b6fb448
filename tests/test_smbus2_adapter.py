"""The smbus2 adapter: message construction and errors, with the ioctl replaced.

smbus2's ``i2c_msg`` and ``i2c_rdwr_ioctl_data`` are real ctypes structures built without
hardware; only ``ioctl`` itself is replaced by a fake kernel that decodes the structure the
adapter built and answers like ``i2c-bcm2835``.
"""

from __future__ import annotations

import ctypes
import errno
import os

import pytest
import smbus2
import smbus2.smbus2 as smbus2_mod

from drivers.smbus2_bus import SMBus2Bus

I2C_M_RD = 0x0001


class FakeKernel:
    """Decodes I2C_RDWR ioctls; devices are register files keyed by address."""

    def __init__(self) -> None:
        self.devices: dict[int, bytearray] = {0x48: bytearray(range(0x10, 0x30))}
        self.calls: list[list[tuple[int, str, bytes | int]]] = []
        self.fail_with: int | None = None

    def ioctl(self, fd: int, request: int, arg: object) -> int:
        assert request == smbus2_mod.I2C_RDWR
        data = arg  # i2c_rdwr_ioctl_data
        msgs = [data.msgs[i] for i in range(data.nmsgs)]  # type: ignore[attr-defined]
        record: list[tuple[int, str, bytes | int]] = []
        if self.fail_with is not None:
            raise OSError(self.fail_with, os.strerror(self.fail_with))
        ptr = 0
        for msg in msgs:
            if msg.addr not in self.devices:
                raise OSError(errno.EREMOTEIO, os.strerror(errno.EREMOTEIO))
            regs = self.devices[msg.addr]
            if msg.flags & I2C_M_RD:
                record.append((msg.addr, "R", msg.len))
                reply = bytes(regs[(ptr + i) % len(regs)] for i in range(msg.len))
                ctypes.memmove(msg.buf, reply, msg.len)
            else:
                payload = ctypes.string_at(msg.buf, msg.len)
                record.append((msg.addr, "W", payload))
                if payload:
                    ptr = payload[0]
                    for i, b in enumerate(payload[1:]):
                        regs[(ptr + i) % len(regs)] = b
        self.calls.append(record)
        return 0


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> FakeKernel:
    k = FakeKernel()
    monkeypatch.setattr(smbus2_mod, "ioctl", k.ioctl)
    return k


def make_bus() -> SMBus2Bus:
    def opener(number: int) -> smbus2.SMBus:
        bus = smbus2.SMBus()  # no /dev/i2c-N: a harmless file stands in for it
        bus.fd = os.open(os.devnull, os.O_RDONLY)
        return bus

    return SMBus2Bus(1, opener, smbus2.i2c_msg, speed_hz=400_000)


def test_adapter_register_read_is_write_then_read_in_one_rdwr(kernel: FakeKernel) -> None:
    bus = make_bus()
    buf = bytearray(3)
    bus.readfrom_mem_into(0x48, 0x02, buf)
    assert kernel.calls == [[(0x48, "W", b"\x02"), (0x48, "R", 3)]]
    assert buf == bytes([0x12, 0x13, 0x14])


def test_adapter_writes_register_and_data_in_one_message(kernel: FakeKernel) -> None:
    bus = make_bus()
    bus.writeto_mem(0x48, 0x01, b"\xc3\xe3")
    assert kernel.calls == [[(0x48, "W", b"\x01\xc3\xe3")]]
    assert kernel.devices[0x48][1:3] == b"\xc3\xe3"
    assert bus.writeto(0x48, b"\x00") == 1
    buf = bytearray(2)
    bus.readfrom_into(0x48, buf)
    assert kernel.calls[-1] == [(0x48, "R", 2)]


def test_adapter_transfers_beyond_the_smbus_32_byte_limit(kernel: FakeKernel) -> None:
    kernel.devices[0x6A] = bytearray(256)
    bus = make_bus()
    buf = bytearray(70)
    bus.readfrom_mem_into(0x6A, 0x78, buf)
    assert kernel.calls[-1] == [(0x6A, "W", b"\x78"), (0x6A, "R", 70)]


def test_adapter_missing_device_keeps_errno_121(kernel: FakeKernel) -> None:
    bus = make_bus()
    with pytest.raises(OSError) as info:
        bus.readfrom_mem_into(0x50, 0, bytearray(1))
    assert info.value.errno == 121
    assert "i2c-1" in str(info.value) and "0x50" in str(info.value)


@pytest.mark.parametrize("code", [errno.EIO, errno.ETIMEDOUT])
def test_adapter_propagates_kernel_errors_with_errno(kernel: FakeKernel, code: int) -> None:
    bus = make_bus()
    kernel.fail_with = code
    with pytest.raises(OSError) as info:
        bus.writeto(0x48, b"\x00")
    assert info.value.errno == code


def test_adapter_scan_lists_acknowledging_addresses(kernel: FakeKernel) -> None:
    kernel.devices[0x27] = bytearray(1)
    assert make_bus().scan() == [0x27, 0x48]


def test_adapter_close_is_idempotent_and_blocks_further_use(kernel: FakeKernel) -> None:
    bus = make_bus()
    bus.close()
    bus.close()
    with pytest.raises(OSError) as info:
        bus.writeto(0x48, b"\x00")
    assert info.value.errno == errno.EBADF


def test_adapter_checks_register_address_size(kernel: FakeKernel) -> None:
    bus = make_bus()
    with pytest.raises(ValueError, match=r"0\.\.255"):
        bus.writeto_mem(0x48, 0x100, b"")
    bus.writeto_mem(0x48, 0x0102, b"\x07", addrsize=16)
    assert kernel.calls[-1] == [(0x48, "W", b"\x01\x02\x07")]
