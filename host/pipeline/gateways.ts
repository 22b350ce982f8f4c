// The gateways of a pipeline's boards without a network (host/gateway): one per board, from its UART to the
// broker, in this process or as a `sealmq gateway` process, and the one line each gateway event becomes.
import { startGateway, type GatewayEvent, type GatewayStats } from '../gateway/gateway.js';
import { spawnGateway } from '../gateway/process.js';

/** A running gateway of a pipeline board (in-process or a `sealmq gateway` process). */
export interface PipelineGateway {
  kind: 'in-process' | 'process' | 'custom';
  /** In-process only: its counts. */
  stats?(): GatewayStats;
  /** A clean stop (the board is told its session ended). */
  stop(): Promise<void>;
  /** Process only: SIGKILL, no goodbye. */
  kill?(): Promise<void>;
}

/** One line for a gateway event (pipeline 'board' events, `sealmq demo`). */
export function gatewayText(e: GatewayEvent): string | undefined {
  switch (e.type) {
    case 'session-open': return `gateway: session ${e.session} connected to the broker`;
    case 'session-closed': return `gateway: session ${e.session} closed (${e.reason}); ${e.toBroker.packets} packets up, ${e.toBoard.packets} down`;
    case 'uart-closed': return `gateway: UART closed${e.error ? ` (${e.error})` : ''}`;
    case 'uart-open': return `gateway: UART ${e.uart} open`;
    default: return undefined;
  }
}

/**
 * Starts the gateway of a board without a network: from its UART URL (tcp://HOST:PORT or a serial path; any
 * board, emulated or QEMU) to the broker. Board-independent: pipelines call it for every board with a uart.
 */
export async function startBoardGateway(uart: string, brokerUrl: string, kind: 'in-process' | 'process' = 'in-process', onText?: (text: string) => void): Promise<PipelineGateway> {
  const onEvent = (e: GatewayEvent) => {
    const t = gatewayText(e);
    if (t && onText) onText(t);
  };
  if (kind === 'process') {
    const g = await spawnGateway({ uart, broker: brokerUrl, onEvent });
    return { kind, stop: g.stop, kill: g.kill };
  }
  const g = await startGateway({ uart, broker: brokerUrl, onEvent });
  return { kind, stats: g.stats, stop: g.stop };
}
