// A small upstream for the browser tests: answers JSON on 127.0.0.1 (port 0), and can
// be switched to fail (503, a status the breaker counts) on demand.
import http from 'node:http';

export class Upstream {
  constructor(name) {
    this.name = name;
    this.failing = false;
    this.requests = 0;
    this.server = http.createServer((req, res) => {
      this.requests += 1;
      req.resume();
      const status = this.failing ? 503 : 200;
      const body = JSON.stringify({ service: this.name, path: req.url, failing: this.failing });
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
    this.server.keepAliveTimeout = 2000;
  }

  listen() {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => {
      this.port = this.server.address().port;
      resolve(this);
    }));
  }

  url(base = '') { return `http://127.0.0.1:${this.port}${base}`; }

  close() {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}
