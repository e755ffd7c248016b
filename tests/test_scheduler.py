"""scheduler: priority order with FIFO ties, one job per device at a time, failures reported; real Keras jobs on MNIST."""

from __future__ import annotations

import collections
import threading
import time
from pathlib import Path

import pytest


def assert_schedule_is_sound(records: list[dict], devices: list[str]) -> None:
    """The bar: start order is (priority, submission) order; no device overlaps itself; every job has an outcome."""
    by_start = sorted(records, key=lambda r: r["started"])
    assert [(r["priority"], r["submitted"]) for r in by_start] == sorted((r["priority"], r["submitted"]) for r in records)
    assert [r["start_s"] for r in by_start] == sorted(r["start_s"] for r in records)  # stamped in pop order
    for device in devices:
        runs = sorted((r["start_s"], r["end_s"]) for r in records if r["device"] == device)
        assert all(end <= next_start for (_, end), (next_start, _) in zip(runs, runs[1:])), (device, runs)
    assert {r["device"] for r in records} <= set(devices)
    for r in records:
        assert r["status"] in ("done", "failed") and r["end_s"] >= r["start_s"], r
        assert (r["status"] == "failed") == bool(r.get("error")), r


@pytest.mark.realdata
def test_keras_jobs_run_by_priority_one_per_device_and_the_broken_one_is_reported(run_recipe):
    """Default config without the serial comparison (the benchmark runs that): 8 MLP jobs and a broken one, 2 logical CPUs."""
    result = run_recipe("scheduler", "--compare=false", "--device=cpu")
    m = result["metrics"]
    devices, records = m["devices"], m["records"]
    assert len(devices) == 2 and m["jobs"] == 9 == len(records)
    assert_schedule_is_sound(records, devices)
    assert {r["device"] for r in records} == set(devices)  # both devices did work
    assert m["failed"] == ["broken"] and "incompatible shape" in next(r for r in records if r["job"] == "broken")["error"]
    for r in records:
        if r["status"] == "done":
            assert r["variable_device"].endswith(r["device"].split("/")[-1]), r  # pinned where the scheduler said
            assert r["test_accuracy"] >= 0.85, r
    # The broken job has priority 1: jobs after it in the queue still ran.
    broken = next(r for r in records if r["job"] == "broken")
    assert any(r["started"] > broken["started"] and r["status"] == "done" for r in records)
    assert Path(m["timeline_png"]).is_file()


# --- the scheduler itself, with instant jobs ---------------------------------------------------


def sleeper(log: list, seconds: float = 0.02):
    """A job that notes which device it ran on and how many jobs that device was running meanwhile."""
    import tensorflow as tf

    active, lock = log[0], log[1]

    def job() -> dict:
        device = tf.constant(0.0).device  # the tf.device scope the worker set
        with lock:
            active[device] += 1
            log.append(active[device])
        time.sleep(seconds)
        with lock:
            active[device] -= 1
        return {"ran_on": device}

    return job


def test_priorities_then_submission_order_on_one_device():
    from tfcook.recipes.scheduler import Job, Scheduler

    log = [collections.Counter(), threading.Lock()]
    scheduler = Scheduler(["/cpu:0"])
    priorities = [3, 1, 2, 1, 0, 3, 1]
    for i, p in enumerate(priorities):
        scheduler.submit(Job(f"j{i}", sleeper(log, 0.0), p))
    records = scheduler.run()
    assert [r["job"] for r in records] == ["j4", "j1", "j3", "j6", "j2", "j0", "j5"]
    assert_schedule_is_sound(records, ["/cpu:0"])


def test_two_workers_never_share_a_device_and_a_failure_stops_nothing():
    from tfcook.recipes.scheduler import Job, Scheduler

    log = [collections.Counter(), threading.Lock()]
    devices = ["/cpu:0", "/CPU:0"]  # two names for one device: each worker still holds its own lane

    def broken() -> dict:
        raise RuntimeError("out of memory\nsecond line")

    scheduler = Scheduler(devices)
    for i in range(12):
        scheduler.submit(Job(f"j{i}", sleeper(log), i % 3))
    scheduler.submit(Job("broken", broken, 0))
    records = scheduler.run()
    assert len(records) == 13
    assert_schedule_is_sound(records, devices)
    failed = [r for r in records if r["status"] == "failed"]
    assert [r["job"] for r in failed] == ["broken"] and failed[0]["error"] == "RuntimeError: out of memory second line"
    assert all(r["ran_on"].endswith("CPU:0") for r in records if r["status"] == "done")
    assert {r["device"] for r in records} == set(devices)
    assert max(log[2:]) <= 2  # two workers, at most two jobs at once on the one physical device


def test_impossible_configs_are_rejected():
    from tfcook.recipes.scheduler import Config, Scheduler

    for bad in ({"devices": 0}, {"jobs": 0}, {"train_examples": 10}, {"test_examples": 0}):
        with pytest.raises(ValueError):
            Config(**bad)
    with pytest.raises(ValueError):
        Scheduler([])
