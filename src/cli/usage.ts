// The usage lines of every `toolgate` command, apart from the commands themselves: printing them loads no command.
export const PINS_USAGE = '  toolgate pins --config FILE --token-file FILE [--url URL]';

export const POLICY_TEST_USAGE = `  toolgate test [--config FILE] CASES...
  toolgate explain [--config FILE] CASES [--case NAME]`;

export const USAGE = `usage:
  toolgate serve --config FILE [--host H] [--grpc-port N] [--admin-port N] [--events-port N]
  toolgate check-config FILE
${POLICY_TEST_USAGE}
  toolgate render envoy --config FILE [--mtls] [--var NAME=VALUE ...] [--out FILE]
  toolgate render istio --config FILE [--namespace NS] [--backend-namespace NS] [--out DIR [--overlay-only]]
  toolgate render helm --config FILE [--namespace NS] [--backend-namespace NS] [--out FILE]
${PINS_USAGE}`;
