"""Tests for hydrarec_minimal/machine.py: devices, precision, memory (containers), timing."""

from __future__ import annotations

import pytest
import torch

from hydrarec_minimal import machine as H


def test_devices_and_their_errors():
    assert H.resolve_device("cpu").type == "cpu"
    assert H.available_devices()[-1] == "cpu"
    assert H.resolve_device("auto").type == H.available_devices()[0]  # the fastest first
    with pytest.raises(ValueError, match="unknown device"):
        H.resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA"):
            H.resolve_device("cuda")


def test_auto_precision_follows_the_hardware(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    monkeypatch.setattr(H, "cpu_flags", lambda: {"avx2", "fma"})
    assert H.resolve_precision("auto", cpu) == "fp32"  # bf16 would be emulated: 80x slower
    monkeypatch.setattr(H, "cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    assert H.resolve_precision("auto", cpu) == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)  # a T4
    assert H.resolve_precision("auto", cuda) == "fp16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # an A100
    assert H.resolve_precision("auto", cuda) == "bf16"
    assert H.resolve_precision("fp32", cuda) == "fp32"
    with pytest.raises(ValueError, match="precision"):
        H.resolve_precision("fp8", cpu)


def write_cgroup(root, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")


def test_container_memory_from_cgroup_v2_and_v1(tmp_path):
    v2, v1, none = tmp_path / "v2", tmp_path / "v1", tmp_path / "none"
    write_cgroup(v2, {"memory.max": str(2 * 2**30), "memory.current": str(2**29)})
    assert H.container_memory_left(v2) == 2 * 2**30 - 2**29
    write_cgroup(v1, {"memory/memory.limit_in_bytes": str(2**31),
                      "memory/memory.usage_in_bytes": str(2**30)})  # fmt: skip
    assert H.container_memory_left(v1) == 2**30
    write_cgroup(none, {"memory.max": "max", "memory.current": "12345"})
    assert H.container_memory_left(none) is None
    write_cgroup(none, {"memory/memory.limit_in_bytes": str(2**63 - 4096)})  # v1's "no limit"
    assert H.container_memory_left(tmp_path / "missing") is None


def test_free_memory_is_the_smaller_of_host_and_container(tmp_path):
    write_cgroup(tmp_path, {"memory.max": str(2 * 2**30), "memory.current": str(2**30)})
    cpu = torch.device("cpu")
    assert H.free_memory(cpu, cgroup_root=tmp_path) <= 2**30
    host = H.free_memory(cpu, cgroup_root=tmp_path / "no-limit")
    assert host > 0


def test_freed_memory_kept_is_scoped_and_trimmed_after():
    if H.proc_status("VmRSS") is None or H._libc() is None:
        pytest.skip("glibc and /proc only")
    with H.freed_memory_kept() as applied:
        assert applied
        x = torch.ones(256 * 2**20 // 4)  # 256 MiB from the heap (mmap is off here), then freed
        del x
        kept = H.proc_status("VmRSS")
        assert not H.trim_freed_memory(fraction=2.0), "never trims below its threshold"
    assert H.proc_status("VmRSS") < kept - 128 * 2**20, "leaving the block handed it back"
    big = torch.ones(256 * 2**20 // 4)  # outside, glibc's default again: a fresh mmap
    before = H.proc_status("VmRSS")
    del big
    assert H.proc_status("VmRSS") < before - 128 * 2**20, "freed at once, as by default"


def test_measure_peak_sees_a_large_allocation():
    peak = H.measure_peak(lambda: torch.ones(64 * 2**20 // 4), torch.device("cpu"))
    if peak is None:
        pytest.skip("no /proc on this system")
    assert peak >= 60 * 2**20


def test_timing_helpers():
    assert H.median([3.0, 1.0, 2.0]) == 2.0 and H.median([1.0, 2.0]) == 2.0
    with pytest.raises(ValueError):
        H.median([])
    times = H.time_call(lambda: torch.ones(10).sum(), torch.device("cpu"), repeats=3)
    assert len(times) == 3 and all(t > 0 for t in times)


def test_torch_threads_restores_the_count():
    before = torch.get_num_threads()
    with H.torch_threads(1) as n:
        assert n == torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_environment_records_the_vector_units():
    env = H.environment()
    assert env["cpu_capability"] and isinstance(env["fast_bf16_cpu"], bool)
    assert env["torch"] == torch.__version__


def test_denormals_are_flushed_inside_the_block_only():
    tiny = torch.tensor([1e-39])  # a float32 denormal
    with H.denormals_flushed() as applied:
        if not applied:
            pytest.skip("this CPU cannot flush denormals")
        assert (tiny * 1.0).item() == 0.0
    assert (tiny * 1.0).item() > 0.0
