// istio/gateway's route for the client's GET event stream: the ingress gateway sends it to toolgate's event-stream
// server (server.eventsPort), as the standalone bootstrap's `events-stream` route does.
import { EVENTS_GRANT_HEADER } from '../../pipeline/extproc/events-grant.js';
import { SELECTOR } from './istio-base.js';
import { APP, type IstioPlan } from './istio-plan.js';
import { note } from './yaml.js';

/** The Service that names toolgate's event-stream port (the base Service stays the same for both patterns). */
export const EVENTS_SERVICE = `${APP}-events`;

/**
 * Matched only after toolgate's ext_proc opened the session token, set its grant and cleared the route cache; a
 * client's copy of the header is stripped at the edge, and toolgate checks the grant's MAC anyway.
 */
export function istioEventsRoute(plan: IstioPlan, eventsPort: number): object {
  return note({
    name: 'events-stream',
    // An empty match value checks that the header is present.
    match: [{ method: { exact: 'GET' }, headers: { [EVENTS_GRANT_HEADER]: {} } }],
    route: [{ destination: { host: `${EVENTS_SERVICE}.${plan.namespace}.svc.cluster.local`, port: { number: eventsPort } } }],
  }, {
    route: 'No timeout: a GET stream lasts as long as the client keeps it (toolgate writes a keep-alive comment every\n'
      + '15 s). Istio leaves a route without one undeadlined and refuses an explicit 0s.',
  });
}

/** toolgate's pods under a second name, for the event-stream port alone. */
export function eventsService(plan: IstioPlan, eventsPort: number): object {
  return note({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: EVENTS_SERVICE, namespace: plan.namespace, labels: { 'app.kubernetes.io/name': APP, app: APP } },
    spec: {
      selector: { ...SELECTOR },
      ports: [{ name: 'http-events', port: eventsPort, targetPort: eventsPort, protocol: 'TCP', appProtocol: 'http' }],
    },
  }, {
    spec: 'HTTP/1.1 from the ingress gateway (mesh mTLS); the NetworkPolicy admits only the gateway\'s pods to this port.',
  });
}
