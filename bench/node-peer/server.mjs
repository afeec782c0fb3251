// The upload path as a small team would write it in Node.js: the peer `./dev bench` measures
// roompush against (system node-peer, bench/run_bench.py). One process, no nginx: busboy for the
// multipart body, ws for the rooms, child_process.spawn for the program.
//
//   node server.mjs --port 8090 --exec '/path/cad-inspect --input {input} --out {workdir}'
//
// POST /cad (roomId, itemId, file) stores the file in a temporary directory and answers 202 with
// the job as roompush's app does ({"jobId","roomId","itemId","status":"queued","ws"}); the
// program runs at once, and when it exits every WebSocket of /ws/rooms/ROOM gets job.done (or
// job.failed) in roompush's message shape (docs/websocket.md); then the files are removed.
// Nothing is journaled or fsynced, only job.done/job.failed are sent, and nothing is kept.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';

import busboy from 'busboy';
import { WebSocketServer } from 'ws';

const { values: options } = parseArgs({
    options: {
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '8090' },
        exec: { type: 'string' },
        'max-upload': { type: 'string', default: String(64 << 20) },
    },
});
if (!options.exec) {
    console.error('usage: node server.mjs --port N --exec "PROGRAM ARGS with {input} {workdir}"');
    process.exit(2);
}
const ROOM = /^[A-Za-z0-9._:-]{1,128}$/;
const rooms = new Map(); // room id -> Set of WebSockets

function answer(res, status, body, headers = {}) {
    const text = JSON.stringify(body);
    res.writeHead(status, {
        'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers,
    });
    res.end(text);
}

function fail(res, status, code, message) {
    answer(res, status, { error: { code, message } });
}

function publish(room, event, data) {
    const members = rooms.get(room);
    if (!members) return;
    const frame = JSON.stringify({ type: 'message', room, event, data, ts: Date.now() });
    for (const ws of members) ws.send(frame);
}

// The program's stdout is JSON lines: progress objects, then the result (docs/program.md).
function resultOf(stdout) {
    let result = null;
    for (const line of stdout.split('\n')) {
        try {
            const value = JSON.parse(line);
            if (value && typeof value === 'object' && !Array.isArray(value) &&
                typeof value.progress !== 'number') result = value;
        } catch {
            // not JSON: ignored
        }
    }
    return result;
}

async function run(job, dir) {
    const input = path.join(dir, 'input');
    const workdir = path.join(dir, 'work');
    await mkdir(workdir);
    const [program, ...args] = options.exec.split(' ').filter(Boolean).map(
        (word) => word.replaceAll('{input}', input).replaceAll('{workdir}', workdir));
    const child = spawn(program, args, { cwd: workdir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => { stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk) => { stderr += chunk; });
    child.on('error', (error) => { stderr += error.message; });
    const [code, signal] = await new Promise((resolve) => {
        child.on('close', (...outcome) => resolve(outcome));
    });
    const result = resultOf(stdout);
    const data = { jobId: job.jobId, itemId: job.itemId };
    if (code === 0 && result) {
        publish(job.roomId, 'job.done', { ...data, status: 'done', result });
    } else {
        const message = result?.error?.message || stderr.trim().split('\n').pop() || 'failed';
        const error = { reason: signal ? 'signal' : 'exit', exitCode: code, message };
        publish(job.roomId, 'job.failed', { ...data, status: 'failed', error });
    }
}

async function upload(req, res) {
    let parser;
    try {
        const limits = { files: 1, fileSize: Number(options['max-upload']) };
        parser = busboy({ headers: req.headers, limits });
    } catch {
        return fail(res, 415, 'not_multipart', 'the body must be multipart/form-data');
    }
    const dir = await mkdtemp(path.join(os.tmpdir(), 'node-peer-'));
    const fields = {};
    let saved = null;
    let tooLarge = false;
    parser.on('field', (name, value) => { fields[name] = value; });
    parser.on('file', (name, stream) => {
        if (name !== 'file' || saved) return stream.resume();
        stream.on('limit', () => { tooLarge = true; });
        saved = pipeline(stream, createWriteStream(path.join(dir, 'input')));
        saved.catch(() => {}); // awaited below, unless the body fails first
    });
    try {
        await pipeline(req, parser);
        await saved;
    } catch (error) {
        await rm(dir, { recursive: true, force: true });
        return fail(res, 400, 'bad_multipart', error.message);
    }
    const { roomId, itemId = '' } = fields;
    let refusal = null;
    if (tooLarge) refusal = [413, 'upload_too_large', 'the file is over the limit'];
    else if (!saved) refusal = [400, 'missing_field', 'file is required'];
    else if (!ROOM.test(roomId ?? '')) refusal = [400, 'invalid_room', 'roomId missing or invalid'];
    if (refusal) {
        await rm(dir, { recursive: true, force: true });
        return fail(res, ...refusal);
    }
    const jobId = randomBytes(16).toString('hex');
    const job = { jobId, roomId, itemId, status: 'queued', ws: `/ws/rooms/${roomId}` };
    answer(res, 202, job, { Location: `/jobs/${job.jobId}` });
    run(job, dir)
        .catch((error) => console.error(`job ${job.jobId}: ${error.message}`))
        .finally(() => rm(dir, { recursive: true, force: true }));
}

const server = http.createServer((req, res) => {
    if (req.url.split('?')[0] !== '/cad') return fail(res, 404, 'not_found', 'no such path');
    if (req.method !== 'POST') return fail(res, 405, 'method_not_allowed', 'POST only');
    upload(req, res).catch((error) => {
        console.error(`upload: ${error.message}`);
        if (!res.headersSent) fail(res, 500, 'internal', 'the upload failed');
    });
});

const sockets = new WebSocketServer({ noServer: true });
server.on('upgrade', (req, socket, head) => {
    const room = /^\/ws\/rooms\/([^/?]*)(\?.*)?$/.exec(req.url)?.[1];
    if (!room || !ROOM.test(room)) {
        socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
        return;
    }
    sockets.handleUpgrade(req, socket, head, (ws) => {
        if (!rooms.has(room)) rooms.set(room, new Set());
        rooms.get(room).add(ws);
        ws.on('error', () => {}); // the close that follows cleans up
        ws.on('close', () => {
            const members = rooms.get(room);
            members?.delete(ws);
            if (members?.size === 0) rooms.delete(room);
        });
        ws.send(JSON.stringify({ type: 'subscribed', room }));
    });
});

server.listen(Number(options.port), options.host, () => {
    console.error(`node-peer: listening on ${options.host}:${options.port}`);
});
