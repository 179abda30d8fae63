"""A job's torch threads are the CPUs it was given, never the whole machine's (msm/hardware.py)."""

import os

import torch

from msm.hardware import allotted_cpus, cpu_threads


def test_slurms_allocation_wins_over_the_machine(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")
    assert allotted_cpus() == 1 and cpu_threads(None) == 1
    assert cpu_threads(3) == 3  # threads=N is taken as given


def test_without_slurm_the_affinity_caps_torchs_default(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("SLURM_CPUS_PER_TASK", raising=False)
    assert allotted_cpus() == len(os.sched_getaffinity(0))
    assert cpu_threads(None) == min(torch.get_num_threads(), len(os.sched_getaffinity(0)))


def test_omp_num_threads_is_left_to_torch(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "4")
    assert cpu_threads(None) is None
