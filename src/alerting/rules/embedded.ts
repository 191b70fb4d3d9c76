import type { Registry } from 'prom-client'
import {
  EmbeddedQuerySource,
  prometheusOnlyReason,
  requiredRetentionMs,
} from '../../prometheus/promql/query-source.ts'
import { SampleStore } from '../../prometheus/promql/store.ts'
import { RegistrySampler } from './registry-sampler.ts'

/**
 * The embedded query source: the service's own registry sampled every `intervalMs` into an
 * in-memory store that the PromQL engine queries. Retention follows the loaded rules (the
 * longest range any of them needs, plus a margin), set once the rules are compiled.
 */
export function createEmbeddedEngine(options: {
  registry: Registry
  intervalMs: number
  now: () => number
  onError?: (err: unknown) => void
}) {
  const store = new SampleStore({ retentionMs: requiredRetentionMs([]) })
  const source = new EmbeddedQuerySource(store)
  const compiled: ReturnType<EmbeddedQuerySource['compile']>[] = []
  const sampler = new RegistrySampler({
    store,
    registry: options.registry,
    intervalMs: options.intervalMs,
    now: options.now,
    onError: options.onError,
  })
  return {
    store,
    source,
    sampler,
    /** Rejects what the engine cannot run (at rule load time) and sizes the store's retention. */
    compile(expr: string) {
      compiled.push(source.compile(expr))
      store.retentionMs = requiredRetentionMs(compiled)
    },
    skipReason: (expr: string) => prometheusOnlyReason(expr),
  }
}

/** The embedded query source, its store and the registry sampler that fills it. */
export type EmbeddedEngine = ReturnType<typeof createEmbeddedEngine>
