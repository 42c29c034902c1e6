#!/usr/bin/env node
// Builds the pinned helm (charts/HELM_VERSION, a version of the module helm.sh/helm/v4) into .tools/helm/<pin>/helm:
// the suite lints charts/toolgate and renders it with it. HELM_BIN overrides (nothing is built).
import { main } from './go-tool.mjs';

main({ name: 'helm', module: 'helm.sh/helm/v4', pkg: 'helm.sh/helm/v4/cmd/helm', pinFile: 'charts/HELM_VERSION', env: 'HELM_BIN' });
