// @camunda8/sdk (the Zeebe gRPC client of the SDK Camunda Modeler uses) drives interop-order.bpmn:
// topology, deployResource, job workers (createWorker polling for reserve, charge and ship; streamJobs pushing
// handle-decline), createProcessInstanceWithResult, publishMessage, job.error (CARD_DECLINED), job.fail with
// retries 0 (incident), updateJobRetries + resolveIncident, and the result's variables.
import { readFileSync } from 'node:fs'
import { Camunda8 } from '@camunda8/sdk'

const CLIENT = 'camunda8-sdk'
const ORDER = 'order-camunda8-sdk'

function fail(what) {
  console.log(`FAIL ${CLIENT}: ${what}`)
  process.exit(1)
}
const step = (what) => console.log(`step: ${what}`)
const withTimeout = (promise, ms, what) =>
  Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms))])

// A local, plaintext gateway without OAuth: grpc:// turns TLS off, NONE turns authentication off.
// (The SDK also reads the runner's ZEEBE_ADDRESS from the environment and warns that ZEEBE_GRPC_ADDRESS wins.)
const c8 = new Camunda8({
  ZEEBE_GRPC_ADDRESS: `grpc://${process.env.ZEEBE_ADDRESS}`,
  CAMUNDA_AUTH_STRATEGY: 'NONE',
  CAMUNDA_OAUTH_DISABLED: true,
  CAMUNDA_LOG_LEVEL: 'error',
  zeebeGrpcSettings: { ZEEBE_GRPC_CLIENT_RETRY: false, ZEEBE_CLIENT_LOG_LEVEL: 'ERROR' },
})
const zeebe = c8.getZeebeGrpcApiClient()

// The gateway protocol returns no incident keys (Zeebe users read them from Operate); apsis lists open incidents
// on its monitoring endpoint. Waits (up to 15 s) until the failure of the job has raised its incident.
async function incidentOf(jobKey) {
  for (let i = 0; i < 150; i++) {
    const incidents = await (await fetch(`${process.env.INTEROP_MONITORING}/incidents`)).json()
    const incident = incidents.find((x) => String(x.jobKey) === String(jobKey))
    if (incident) return incident
    await new Promise((r) => setTimeout(r, 100))
  }
  fail(`no incident for job ${jobKey} appeared in /incidents within 15 s`)
}

// The ship job the worker failed, for the main flow to repair.
let shipFailed
const shipFailedPromise = new Promise((resolve) => (shipFailed = resolve))
const seen = { reserveHeader: undefined, chargeVars: undefined }

async function main() {
  step('topology')
  const topology = await zeebe.topology()
  if (!topology.gatewayVersion) fail(`topology has no gatewayVersion: ${JSON.stringify(topology)}`)
  if (topology.brokers?.[0]?.partitions?.length !== 1) fail(`topology has no partition: ${JSON.stringify(topology)}`)

  step('deployResource')
  const deployed = await zeebe.deployResource({
    process: readFileSync(process.env.INTEROP_BPMN),
    name: 'interop-order.bpmn',
  })
  const process0 = deployed.deployments?.[0]?.process
  if (process0?.bpmnProcessId !== 'interop-order') fail(`deploy answered ${JSON.stringify(deployed)}`)

  step('workers')
  const workers = [
    zeebe.createWorker({
      taskType: 'reserve',
      pollInterval: 100,
      taskHandler: (job) => {
        seen.reserveHeader = job.customHeaders.warehouse
        return job.complete({ reserved: true })
      },
    }),
    zeebe.createWorker({
      taskType: 'charge',
      pollInterval: 100,
      taskHandler: (job) => {
        seen.chargeVars = job.variables
        return job.error('CARD_DECLINED', 'insufficient funds')
      },
    }),
    await zeebe.streamJobs({
      type: 'handle-decline',
      worker: 'interop-stream',
      timeout: 30000,
      taskHandler: (job) => job.complete({ declineHandled: true }),
    }),
    zeebe.createWorker({
      taskType: 'ship',
      pollInterval: 100,
      taskHandler: (job) => {
        if (job.retries === 1) {
          shipFailed(job.key)
          return job.fail({ errorMessage: 'carrier unreachable', retries: 0 })
        }
        return job.complete({ shipped: true, shipRetries: job.retries })
      },
    }),
  ]

  step('createProcessInstanceWithResult')
  const result = zeebe.createProcessInstanceWithResult({
    bpmnProcessId: 'interop-order',
    variables: { orderId: ORDER, amount: 42 },
    requestTimeout: 60000,
  })
  result.catch(() => {}) // awaited below; keeps an early rejection from being unhandled

  step('publishMessage')
  await zeebe.publishMessage({
    name: 'payment-received',
    correlationKey: ORDER,
    variables: { paid: 42 },
    timeToLive: 60000,
  })

  step('wait for the ship job to fail (incident)')
  const shipKey = await withTimeout(shipFailedPromise, 30000, 'the ship worker')

  step('find the incident (GET /incidents)')
  const incident = await incidentOf(shipKey)
  if (incident.errorType !== 'JOB_NO_RETRIES' || incident.errorMessage !== 'carrier unreachable')
    fail(`unexpected incident ${JSON.stringify(incident)}`)
  const resolved = String(incident.key)

  step(`updateJobRetries(${shipKey}, 2) and resolveIncident(${resolved})`)
  await zeebe.updateJobRetries({ jobKey: shipKey, retries: 2 })
  await zeebe.resolveIncident({ incidentKey: resolved })
  console.log(`resolved incident ${resolved}`)

  step('await the result')
  const outcome = await result
  console.log(JSON.stringify(outcome))
  await Promise.all(workers.map((w) => w.close()))
  await zeebe.close()

  const expected = {
    orderId: ORDER,
    amount: 42,
    reserved: true,
    paid: 42,
    coolOffDone: true,
    declineHandled: true,
    shipped: true,
    shipRetries: 2,
  }
  const got = outcome.variables ?? {}
  const wrong = Object.entries(expected).filter(([k, v]) => JSON.stringify(got[k]) !== JSON.stringify(v))
  if (wrong.length) fail(`result variables ${JSON.stringify(got)} differ on ${wrong.map(([k]) => k).join(', ')}`)
  if (seen.reserveHeader !== 'north') fail(`the reserve job's custom header warehouse was ${seen.reserveHeader}`)
  if (seen.chargeVars?.paid !== 42 || seen.chargeVars?.coolOffDone !== true)
    fail(`the charge job's variables lack the message's and the timer's: ${JSON.stringify(seen.chargeVars)}`)
  if (outcome.bpmnProcessId !== 'interop-order') fail(`the result names process ${outcome.bpmnProcessId}`)
  console.log(`PASS ${CLIENT}`)
  process.exit(0)
}

main().catch((e) => fail(e?.stack ?? String(e)))
