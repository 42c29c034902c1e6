#!/usr/bin/env node
// Builds the pinned istioctl (istio/ISTIOCTL_VERSION, a version of the module istio.io/istio) into
// .tools/istioctl/<pin>/istioctl: the suite validates every Istio manifest and the Helm chart's output with it.
// ISTIOCTL_BIN overrides (nothing is built).
import { main } from './go-tool.mjs';

main({ name: 'istioctl', module: 'istio.io/istio', pkg: 'istio.io/istio/istioctl/cmd/istioctl', pinFile: 'istio/ISTIOCTL_VERSION', env: 'ISTIOCTL_BIN' });
