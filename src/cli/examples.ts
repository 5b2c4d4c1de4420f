/**
 * Examples for each command's help (`natal wire --help`), one command line each, as a user
 * types it. A test parses every one of them against the program.
 */
export const EXAMPLES: Record<string, string[]> = {
  init: ['natal init', 'natal init --db postgres://postgres@localhost/app'],
  doctor: ['natal doctor', 'natal doctor --json'],
  'species add': ['natal species add SPE-ORD --prefix ORD --level atom --name order'],
  'species list': ['natal species list --json'],
  'collection add': [
    'natal collection add shop.orders --species SPE-ORD --code-column code --owner olga',
    'natal collection add shop.order_lines --species SPE-LIN --role staging',
  ],
  'collection remove': ['natal collection remove shop.orders'],
  'collection list': ['natal collection list', 'natal collection list shop.orders --json'],
  'collection set': [
    'natal collection set shop.orders --owner olga --dry-run',
    'natal collection set shop.orders --strict',
  ],
  wire: ['natal wire shop.orders shop.customers', 'natal wire --all --dry-run'],
  unwire: ['natal unwire shop.orders --dry-run'],
  triggers: ['natal triggers', 'natal triggers --json'],
  create: ['natal create shop.orders --data \'{"name": "first order"}\' --origin checkout'],
  inspect: ['natal inspect', 'natal inspect shop.orders --recheck'],
  show: [
    'natal show ORD-000042',
    'natal show shop.orders 42',
    'natal show shop.order_lines \'{"order_id": 7, "line": 1}\'',
  ],
  classify: ['natal classify', 'natal classify shop.orders --apply'],
  'identity set': [
    'natal identity set shop.orders --strategy column --column code',
    'natal identity set shop.order_lines --strategy composite --columns order_id,line --dry-run',
  ],
  preflight: ['natal preflight', 'natal preflight shop.orders --json'],
  census: ['natal census', 'natal census shop.orders --orphans --limit 20', 'natal census --check'],
  status: ['natal status', 'natal status --json'],
  plan: ['natal plan shop.orders', 'natal plan --all --json'],
  rehearse: ['natal rehearse 3'],
  approve: ['natal approve 3 --review --note "codes checked against the sample"', 'natal approve 3 --permit'],
  apply: ['natal apply 3', 'natal apply 3 --resume 5', 'natal apply 3 --batch-size 100000 --lanes 2'],
  rollback: ['natal rollback 5 --dry-run', 'natal rollback 5'],
  freeze: [
    'natal freeze backfill --reason "quarter close"',
    'natal freeze shop.orders --reason audit --dry-run',
  ],
  unfreeze: ['natal unfreeze backfill'],
  freezes: ['natal freezes', 'natal freezes --json'],
  serve: [
    'natal serve --db postgres://localhost/app',
    'natal serve --data-dir ./.natal --as gina --port 8080',
  ],
  ledger: ['natal ledger --plan 3', 'natal ledger --verify --json', 'natal ledger --limit 50'],
  plans: ['natal plans', 'natal plans --limit 5 --json'],
  runs: ['natal runs --plan 3'],
  report: ['natal report --plan 3 --out report.md', 'natal report --since 2026-12-01 --format json'],
  demo: ['natal demo', 'natal demo --births 100000'],
  'access grant': ['natal access grant bob reviewer', 'natal access grant oscar operator reader'],
  'access revoke': ['natal access revoke bob reviewer'],
  'access list': ['natal access list --json'],
  completion: ['natal completion bash', 'natal completion fish'],
};
