// Starts the real stack (stack.py, on tools/devstack.py) for a Node test file and talks to it.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '../..');
export const BUILD_DIR = path.resolve(process.env.ROOMPUSH_BUILD_DIR ?? path.join(REPO, 'build'));

export class Stack {
    #process;
    #lines;
    #pending = [];

    static async start(options = {}) {
        const stack = new Stack();
        await stack.#start(options);
        return stack;
    }

    async #start({ maxUpload, auth } = {}) {
        const args = [path.join(HERE, 'stack.py'), '--build-dir', BUILD_DIR];
        if (maxUpload) args.push('--max-upload', maxUpload);
        if (auth) args.push('--auth');
        this.#process = spawn('/usr/bin/python3', args, { stdio: ['pipe', 'pipe', 'inherit'] });
        this.#lines = createInterface({ input: this.#process.stdout });
        this.#lines.on('line', (line) => this.#pending.shift()?.resolve(JSON.parse(line)));
        this.#process.on('exit', (code) => {
            for (const waiter of this.#pending.splice(0)) waiter.reject(new Error(`stack.py exited with ${code}`));
        });
        const ready = await this.#next();
        if (!ready.ok) throw new Error(`the stack did not start: ${ready.error?.message}`);
        Object.assign(this, ready);
    }

    #next() {
        return new Promise((resolve, reject) => this.#pending.push({ resolve, reject }));
    }

    async command(object) {
        const answer = this.#next();
        this.#process.stdin.write(JSON.stringify(object) + '\n');
        const result = await answer;
        if (!result.ok) throw new Error(`${object.cmd}: ${JSON.stringify(result.error ?? result)}`);
        return result;
    }

    publish(room, event, data = {}) {
        return this.command({ cmd: 'publish', room, event, data });
    }

    /** A room token from `pushctl token` (a stack started with {auth: true}). */
    async token(room, ttl = '1h') {
        return (await this.command({ cmd: 'token', room, ttl })).token;
    }

    stopSidecar() { return this.command({ cmd: 'stop-sidecar' }); }
    startSidecar() { return this.command({ cmd: 'start-sidecar' }); }
    restartSidecar() { return this.command({ cmd: 'restart-sidecar' }); }

    /** Stops everything; throws if a program did not exit cleanly (0). */
    async stop() {
        const answer = this.#next();
        const exited = new Promise((resolve) => this.#process.once('exit', resolve));
        this.#process.stdin.end(JSON.stringify({ cmd: 'stop' }) + '\n');
        const result = await answer;
        await exited;
        if (!result.ok) {
            throw new Error(`programs did not stop cleanly: ${JSON.stringify(result.exitCodes)}\n` +
                Object.entries(result.logs ?? {}).map(([name, log]) => `--- ${name} ---\n${log}`).join('\n'));
        }
    }
}
