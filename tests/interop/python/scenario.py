"""pyzeebe drives interop-order.bpmn against apsis engine.

A ZeebeClient (topology, deploy_resource, run_process_with_result, run_process, publish_message,
cancel_process_instance, healthcheck) and a ZeebeWorker
whose tasks complete jobs with variables, raise BusinessError (CARD_DECLINED, caught by the boundary event) and
raise an exception on the ship job's only retry (pyzeebe fails it with retries - 1 = 0: an incident). pyzeebe has no
UpdateJobRetries or ResolveIncident, so the incident is repaired with zbctl, then the worker completes the job.
The worker streams jobs (StreamActivatedJobs) and polls, as pyzeebe does with stream_enabled.
"""

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request

import grpc
from pyzeebe import Job, ZeebeClient, ZeebeWorker, create_insecure_channel
from pyzeebe.errors import BusinessError

CLIENT = "pyzeebe"
ORDER = "order-pyzeebe"
ADDRESS = os.environ["ZEEBE_ADDRESS"]
EXPECTED = {
    "orderId": ORDER,
    "amount": 42,
    "reserved": True,
    "paid": 42,
    "coolOffDone": True,
    "declineHandled": True,
    "shipped": True,
    "shipRetries": 2,
}


class Failed(Exception):
    pass


def step(what: str) -> None:
    print(f"step: {what}", flush=True)


def zbctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [os.environ["INTEROP_ZBCTL"], "--insecure", "--address", ADDRESS, *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


def build_worker(channel: grpc.aio.Channel, seen: dict, ship_failed: asyncio.Future) -> ZeebeWorker:
    worker = ZeebeWorker(channel, name="pyzeebe-interop", stream_enabled=True, poll_retry_delay=1)

    @worker.task(task_type="reserve")
    async def reserve(job: Job) -> dict:
        seen["reserve_headers"] = job.custom_headers
        return {"reserved": True}

    @worker.task(task_type="charge")
    async def charge(job: Job) -> dict:
        seen["charge_variables"] = job.variables
        raise BusinessError("CARD_DECLINED")

    @worker.task(task_type="handle-decline")
    async def handle_decline(job: Job) -> dict:
        return {"declineHandled": True}

    @worker.task(task_type="ship")
    async def ship(job: Job) -> dict:
        if job.retries == 1:
            if not ship_failed.done():
                ship_failed.set_result(job.key)
            raise RuntimeError("carrier unreachable")
        return {"shipped": True, "shipRetries": job.retries}

    return worker


def incident_of(job_key: int) -> dict:
    """The open incident of a job, once its failure has raised it (waits up to 15 s). The gateway protocol returns
    no incident keys (Zeebe users read them from Operate); apsis lists open incidents on its monitoring endpoint."""
    for _ in range(150):
        with urllib.request.urlopen(f"{os.environ['INTEROP_MONITORING']}/incidents", timeout=10) as answer:
            incidents = json.load(answer)
        incident = next((i for i in incidents if i["jobKey"] == job_key), None)
        if incident is not None:
            return incident
        time.sleep(0.1)
    raise Failed(f"no incident for job {job_key} appeared in /incidents within 15 s")


def repair_incident(job_key: int, incident_key: int) -> None:
    """UpdateJobRetries(2) then ResolveIncident, through zbctl: pyzeebe offers neither."""
    done = zbctl("update", "retries", str(job_key), "--retries", "2")
    if done.returncode != 0:
        raise Failed(f"zbctl update retries {job_key} -> {done.stdout}{done.stderr}")
    done = zbctl("resolve", "incident", str(incident_key))
    if done.returncode != 0:
        raise Failed(f"zbctl resolve incident {incident_key} -> {done.stdout}{done.stderr}")


async def scenario() -> None:
    channel = create_insecure_channel(grpc_address=ADDRESS)
    client = ZeebeClient(channel)

    step("topology")
    topology = await client.topology()
    if not topology.gateway_version or len(topology.brokers[0].partitions) != 1:
        raise Failed(f"unexpected topology {topology}")

    step("deploy_resource")
    deployed = await client.deploy_resource(os.environ["INTEROP_BPMN"])
    if deployed.deployments[0].bpmn_process_id != "interop-order":
        raise Failed(f"deploy answered {deployed}")

    step("run_process (an instance left waiting for its message, to check run_process's answer)")
    started = await client.run_process("interop-order", variables={"orderId": "never-paid"})
    if started.process_instance_key <= 0 or started.bpmn_process_id != "interop-order":
        raise Failed(f"run_process answered {started}")

    seen: dict = {}
    ship_failed: asyncio.Future = asyncio.get_running_loop().create_future()
    worker = build_worker(channel, seen, ship_failed)
    worker_task = asyncio.create_task(worker.work())

    step("run_process_with_result")
    result = asyncio.create_task(
        client.run_process_with_result(
            "interop-order", variables={"orderId": ORDER, "amount": 42}, timeout=60000
        )
    )

    step("publish_message")
    await client.publish_message(
        "payment-received", correlation_key=ORDER, variables={"paid": 42}, time_to_live_in_milliseconds=60000
    )

    step("wait for the ship job to fail (incident)")
    ship_key = await asyncio.wait_for(ship_failed, 30)

    step("find the incident (GET /incidents)")
    incident = await asyncio.to_thread(incident_of, ship_key)
    if incident["errorType"] != "JOB_NO_RETRIES" or "carrier unreachable" not in incident["errorMessage"]:
        raise Failed(f"unexpected incident {incident}")

    step(f"zbctl update retries {ship_key} --retries 2; zbctl resolve incident {incident['key']}")
    await asyncio.to_thread(repair_incident, ship_key, incident["key"])

    step("await the result")
    outcome = await asyncio.wait_for(result, 60)
    print(f"result: key={outcome.process_instance_key} variables={json.dumps(outcome.variables)}", flush=True)
    await worker.stop()
    worker_task.cancel()

    wrong = {k: outcome.variables.get(k) for k, v in EXPECTED.items() if outcome.variables.get(k) != v}
    if wrong:
        raise Failed(f"result variables {outcome.variables} differ from {EXPECTED} on {sorted(wrong)}")
    if seen.get("reserve_headers", {}).get("warehouse") != "north":
        raise Failed(f"the reserve job's custom headers were {seen.get('reserve_headers')}")
    charge_vars = seen.get("charge_variables", {})
    if charge_vars.get("paid") != 42 or charge_vars.get("coolOffDone") is not True:
        raise Failed(f"the charge job's variables lack the message's and the timer's: {charge_vars}")

    step("cancel_process_instance (the instance that never got its message)")
    await client.cancel_process_instance(started.process_instance_key)

    step("healthcheck (grpc.health.v1.Health/Check for gateway_protocol.Gateway)")
    try:
        health = await client.healthcheck()
    except Exception as e:  # noqa: BLE001 - reported as the failure
        raise Failed(f"healthcheck (grpc.health.v1.Health/Check) -> {type(e).__name__}: {e}") from e
    if health.status != 1:  # SERVING
        raise Failed(f"healthcheck answered status {health.status}, expected SERVING (1)")


def main() -> int:
    try:
        asyncio.run(asyncio.wait_for(scenario(), 90))
    except Failed as e:
        print(f"FAIL {CLIENT}: {e}", flush=True)
        return 1
    except Exception as e:  # noqa: BLE001 - any client error is the scenario's failure
        print(f"FAIL {CLIENT}: {type(e).__name__}: {e}", flush=True)
        return 1
    print(f"PASS {CLIENT}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
