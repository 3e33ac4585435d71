// The real gatehouse binary for the browser tests: a YAML file of the test's own, a free
// port on 127.0.0.1, readiness polled on /readyz, SIGTERM at the end (and a check that it
// exited 0). Tokens come from `gatehouse token`, the CLI an operator would use.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export function gatehouseBin() {
  return process.env.GATEHOUSE_BIN || path.join(REPO, 'build', 'gatehouse');
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function waitFor(what, fn, timeoutMs = 10000, stepMs = 50) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (${last})` : ''}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

// Every gateway's folder (config, log) is removed when the test process exits, unless
// GATEHOUSE_KEEP_TMP is set (to read the logs of a failed run).
const folders = new Set();
process.on('exit', () => {
  if (process.env.GATEHOUSE_KEEP_TMP) return;
  for (const dir of folders) fs.rmSync(dir, { recursive: true, force: true });
});

export class Gateway {
  constructor(yamlBody, { env = {}, args = [] } = {}) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-browser-'));
    folders.add(this.dir);
    this.configPath = path.join(this.dir, 'gatehouse.yaml');
    this.logPath = path.join(this.dir, 'gatehouse.log');
    this.yamlBody = yamlBody;
    this.env = env;
    this.args = args;
    this.proc = null;
  }

  // The YAML with the listener filled in (the body must not set `listen`).
  configText(body = this.yamlBody) {
    return `listen: 127.0.0.1:${this.port}\nthreads: 1\nshutdown_grace: 2s\n${body}`;
  }

  writeConfig(text) { fs.writeFileSync(this.configPath, text); }

  async start() {
    this.port = await freePort();
    this.origin = `http://127.0.0.1:${this.port}`;
    this.writeConfig(this.configText());
    const log = fs.openSync(this.logPath, 'w');
    const env = { ...process.env, ...this.env };
    delete env.GATEHOUSE_LOG_LEVEL;
    this.proc = spawn(gatehouseBin(), ['run', '-c', this.configPath, ...this.args],
      { env, cwd: this.dir, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, sig) => resolve({ code, sig })));
    let done = null;
    this.exited.then((v) => { done = v; });
    await waitFor('gatehouse ready', async () => {
      if (done) throw new Error(`gatehouse exited ${JSON.stringify(done)}:\n${this.log()}`);
      const r = await fetch(`${this.origin}/readyz`);
      return r.status === 200;
    });
    return this;
  }

  log() {
    try { return fs.readFileSync(this.logPath, 'utf8'); } catch (e) { return ''; }
  }

  get running() { return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null; }

  // SIGTERM; resolves to the exit code, failing if it takes too long.
  async stop(timeoutMs = 10000) {
    if (!this.proc) return 0;
    if (this.running) this.proc.kill('SIGTERM');
    const timer = new Promise((_, reject) => setTimeout(() => {
      this.proc.kill('SIGKILL');
      reject(new Error(`gatehouse did not exit within ${timeoutMs} ms\n${this.log()}`));
    }, timeoutMs));
    const { code, sig } = await Promise.race([this.exited, timer]);
    return sig ? `signal ${sig}` : code;
  }

  async get(p, headers = {}) {
    return fetch(`${this.origin}${p}`, { headers });
  }
}

// `gatehouse token --secret-env VAR ...`: the token on stdout.
export function mintToken({ secretEnv, secret, scope, ttl = '10m' }) {
  const args = ['token', '--secret-env', secretEnv, '--sub', 'browser-test', '--ttl', ttl];
  if (scope !== undefined) args.push('--scope', scope);
  const p = spawnSync(gatehouseBin(), args, {
    env: { ...process.env, [secretEnv]: secret }, encoding: 'utf8', timeout: 10000,
  });
  if (p.status !== 0) throw new Error(`gatehouse token exited ${p.status}: ${p.stderr}`);
  return p.stdout.trim();
}
