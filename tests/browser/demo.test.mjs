// The demo page in Debian's Chromium (driven by playwright-core), against the real stack through
// nginx: upload, progress, result and preview; a second page in the same room; refused uploads
// and failed jobs; a sidecar restart while the page is open. Screenshots go to
// $ROOMPUSH_ARTIFACTS (default BUILD_DIR/test-artifacts/browser).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';
import { Stack, BUILD_DIR } from './stack.mjs';
import { CuttableProxy } from './proxy.mjs';

const ARTIFACTS = process.env.ROOMPUSH_ARTIFACTS ?? path.join(BUILD_DIR, 'test-artifacts', 'browser');
const CHROMIUM = process.env.ROOMPUSH_CHROMIUM ?? '/usr/bin/chromium';
// Flags for a quiet, reproducible headless Chromium on a CI machine without a GPU or network.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WAIT = 20000;  // ms; generous for a loaded 2-core machine, never reached when things work

let stack;
let proxy;
let context;
let userDataDir;

before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    stack = await Stack.start({ maxUpload: '1m' });
    proxy = await CuttableProxy.start(Number(new URL(stack.url).port));
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS,
        viewport: { width: 1280, height: 900 }, timeout: 60000,
    });
    context.setDefaultTimeout(WAIT);
});

after(async () => {
    await context?.close();
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
    await proxy?.close();
    await stack?.stop();
});

/** A page of the demo in `room`, connected and subscribed. */
async function openDemo(room, { viaProxy = false, blockWebSockets = false } = {}) {
    const page = await context.newPage();
    if (blockWebSockets) {
        // What a proxy that strips Upgrade does to a page: every WebSocket fails to open (a real
        // one, sent to a port nothing listens on).
        await page.addInitScript(() => {
            const Real = window.WebSocket;
            window.WebSocket = class extends Real {
                constructor() { super('ws://127.0.0.1:9/refused'); }
            };
        });
    }
    const problems = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => { if (message.type() === 'error') problems.push(`console: ${message.text()}`); });
    page.problems = problems;
    const base = viaProxy ? `http://127.0.0.1:${proxy.port}` : stack.url;
    await page.goto(`${base}/?room=${room}&maxBackoff=1000`);
    await page.locator('#connection[data-state="open"]').waitFor();
    await page.locator('#log li[data-local="subscribed"]').first().waitFor();
    return page;
}

async function screenshot(page, name) {
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** The room messages the page logged: [{event, seq, epoch, job}]. */
function logged(page) {
    return page.$$eval('#log li.message', (items) => items.map((li) => ({
        event: li.dataset.event, seq: Number(li.dataset.seq), epoch: li.dataset.epoch, job: li.dataset.job,
        detail: li.querySelector('.detail').textContent,
    })));
}

test('upload a sample STL: both bars reach 100%, the figures and the preview show; a second page sees the same job.done', async () => {
    const room = 'web-upload';
    const page = await openDemo(room);
    const other = await openDemo(room);
    await page.click('button[data-sample="torus.stl"]');
    await page.click('#upload-button');
    await page.locator('#job-status[data-status="done"]').waitFor();
    assert.equal(await page.$eval('#upload-progress', (bar) => bar.value), 100);
    assert.equal(await page.$eval('#job-progress', (bar) => bar.value), 100);
    assert.equal((await page.textContent('#result-triangles')).trim(), '1,296');
    assert.equal((await page.textContent('#job-text')).trim(), '100%');
    await page.waitForFunction(() => {
        const image = document.getElementById('preview');
        return !image.hidden && image.complete && image.naturalWidth > 0;
    });
    const jobId = (await page.textContent('#job-id')).trim();
    assert.match(jobId, /^[0-9a-f]{32}$/);
    const preview = await page.request.get(`${stack.url}/jobs/${jobId}/preview.svg`);
    assert.equal(preview.status(), 200);
    assert.equal(preview.headers()['content-type'], 'image/svg+xml');
    assert.match(preview.headers()['content-security-policy'], /default-src 'none'/);
    const missing = await page.request.get(`${stack.url}/jobs/${'0'.repeat(32)}/preview.svg`);
    assert.equal(missing.status(), 404);
    assert.equal((await missing.json()).error.code, 'not_found');

    // The second page got the same push: same job, same seq, and renders the same result.
    await other.locator(`#log li[data-event="job.done"][data-job="${jobId}"]`).waitFor();
    await other.locator('#job-status[data-status="done"]').waitFor();
    assert.equal((await other.textContent('#result-triangles')).trim(), '1,296');
    const mine = (await logged(page)).filter((m) => m.job === jobId);
    const theirs = (await logged(other)).filter((m) => m.job === jobId);
    assert.deepEqual(theirs.map((m) => [m.event, m.seq]), mine.map((m) => [m.event, m.seq]));
    assert.deepEqual(mine.map((m) => m.event).filter((e) => e !== 'job.progress'), ['job.queued', 'job.started', 'job.done']);
    await screenshot(page, 'upload-done');
    await screenshot(other, 'second-page');
    assert.deepEqual([...page.problems, ...other.problems], []);
    await page.close();
    await other.close();
});

test('a refused upload and a failed job are explained on the page', async () => {
    const page = await openDemo('web-errors');
    // Over the stack's 1 MiB limit: nginx answers 413 with a JSON error.
    await page.setInputFiles('#file', { name: 'huge.stl', mimeType: 'model/stl', buffer: Buffer.alloc(2 << 20, 1) });
    await page.click('#upload-button');
    await page.locator('#upload-error:not([hidden])').waitFor();
    const refused = await page.textContent('#upload-error');
    assert.match(refused, /too large/i);
    assert.match(refused, /413 upload_too_large/);
    await screenshot(page, 'upload-refused');

    await page.click('button[data-sample="broken.stl"]');
    await page.click('#upload-button');
    await page.locator('#job-status[data-status="failed"]').waitFor();
    assert.equal(await page.isHidden('#upload-error'), true);
    const failed = await page.textContent('#job-error');
    assert.match(failed, /The job failed/);
    assert.match(failed, /binary STL declares 12 triangles/);
    await page.locator('#log li[data-event="job.failed"]').waitFor();
    await screenshot(page, 'job-failed');
    // Chromium reports every 4xx answer on the console; the 413 was the point of this test.
    assert.deepEqual(page.problems.filter((p) => !/Failed to load resource.* 413 /.test(p)), []);
    await page.close();
});

test('a DXF drawing is inspected and previewed', async () => {
    const page = await openDemo('web-dxf');
    await page.click('button[data-sample="plate.dxf"]');
    await page.click('#upload-button');
    await page.locator('#job-status[data-status="done"]').waitFor();
    assert.equal((await page.textContent('#result-entities')).trim(), '11');
    await page.waitForFunction(() => document.getElementById('preview').naturalWidth > 0);
    await screenshot(page, 'dxf-done');
    await page.close();
});

test('the sidecar restarts while the page is open: it reconnects, and nothing is shown twice', async () => {
    const room = 'web-restart';
    const page = await openDemo(room);
    await stack.publish(room, 'note', { n: 1 });
    await page.locator('#log li[data-event="note"]').waitFor();
    await stack.restartSidecar();
    await page.locator('#log li[data-local="connection"]', { hasText: 'lost' }).first().waitFor();
    await page.locator('#log li[data-local="subscribed"]').nth(1).waitFor();
    await page.locator('#connection[data-state="open"]').waitFor();
    await stack.publish(room, 'note', { n: 2 });
    await page.locator('#log li[data-event="note"]').nth(1).waitFor();
    const notes = (await logged(page)).filter((m) => m.event === 'note');
    assert.deepEqual(notes.map((m) => JSON.parse(m.detail).n), [1, 2]);
    assert.notEqual(notes[0].epoch, notes[1].epoch, 'a restarted sidecar starts a new epoch');
    assert.equal(await page.locator('#log li[data-local="reset"]').count(), 1, 'the reset is shown once');
    await screenshot(page, 'sidecar-restarted');
    await page.close();
});

test('what was published while the page was away is shown after it reconnects, once', async () => {
    const room = 'web-resume';
    const page = await openDemo(room, { viaProxy: true });
    try {
        await stack.publish(room, 'note', { n: 1 });
        await page.locator('#log li[data-event="note"]').waitFor();
        // The page cannot come back until the test lets it: the publishes below happen while
        // it is away, on a sidecar that was restarted meanwhile.
        proxy.blocked = true;
        proxy.cut();
        await page.locator('#connection[data-state="reconnecting"]').waitFor();
        await stack.restartSidecar();
        for (let n = 2; n <= 4; n += 1) await stack.publish(room, 'note', { n });
        proxy.blocked = false;
        await page.locator('#log li[data-event="note"]').nth(3).waitFor({ timeout: 8000 });
        await page.waitForTimeout(300);  // room for a duplicate to show up, if there were one
        const notes = (await logged(page)).filter((m) => m.event === 'note');
        assert.deepEqual(notes.map((m) => JSON.parse(m.detail).n), [1, 2, 3, 4]);
        await screenshot(page, 'resumed');
    } finally {
        proxy.blocked = false;
        await page.close();
    }
});

test('a note typed on one page reaches the other page of the room, with its sender', async () => {
    const room = 'web-chat';
    const writer = await openDemo(room);
    const reader = await openDemo(room);
    await writer.fill('#chat-text', 'tolerances look fine');
    await writer.click('#chat-send');
    await reader.locator('#log li[data-event="chat"]').waitFor();
    const [note] = (await logged(reader)).filter((m) => m.event === 'chat');
    assert.match(note.detail, /^.+\/\d+: tolerances look fine$/, 'NODE/CONNECTION: text');
    // The box empties once the note is acked (which may come after the reader has it).
    await writer.waitForFunction(() => document.getElementById('chat-text').value === '');
    assert.equal(await writer.locator('#chat-error').textContent(), '');
    await writer.fill('#chat-text', 'x'.repeat(3000));  // the input holds 500; data still small
    assert.equal((await writer.inputValue('#chat-text')).length, 500);
    await screenshot(reader, 'chat');
    assert.deepEqual([...writer.problems, ...reader.problems], []);
    await writer.close();
    await reader.close();
});

/** A counter of the sidecar's /metrics. */
async function metric(name) {
    const text = await (await fetch(`${stack.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return Number(line.split(' ')[1]);
}

test('Chromium negotiates permessage-deflate: a large job.done arrives whole, compressed once for two pages', async () => {
    const room = 'web-deflate';
    const data = { jobId: 'deflate-1', status: 'done',
        result: { parts: Array.from({ length: 200 }, (_, i) => ({ name: `part-${i}`, material: 'steel' })) } };
    const pages = [];
    for (let i = 0; i < 2; i += 1) {
        const page = await context.newPage();
        await page.goto(`${stack.url}/`);
        const extensions = await page.evaluate(async (url) => {
            window.received = [];
            const socket = new WebSocket(url);
            socket.onmessage = (event) => window.received.push(JSON.parse(event.data));
            await new Promise((resolve, reject) => { socket.onopen = resolve; socket.onerror = reject; });
            return socket.extensions;
        }, `${stack.wsUrl}/ws/rooms/${room}`);
        assert.equal(extensions, 'permessage-deflate');
        await page.waitForFunction(() => window.received.some((m) => m.type === 'subscribed'));
        pages.push(page);
    }
    const before = await metric('roompush_ws_messages_deflated_total');
    await stack.publish(room, 'job.done', data);
    for (const page of pages) {
        await page.waitForFunction(() => window.received.some((m) => m.type === 'message'));
        const message = await page.evaluate(() => window.received.find((m) => m.type === 'message'));
        assert.deepEqual([message.event, message.data], ['job.done', data]);
    }
    assert.equal(await metric('roompush_ws_messages_deflated_total') - before, 1);
    for (const page of pages) await page.close();
});

test('the page shows who is in the room, and follows them coming and going', async () => {
    const room = 'web-people';
    const first = await openDemo(room);
    await first.locator('#people[data-count="1"]').waitFor();
    const second = await openDemo(room);
    await first.locator('#people[data-count="2"]').waitFor();
    await second.locator('#people[data-count="2"]').waitFor();
    assert.match(await first.locator('#people').textContent(), /^2 here: .+\/\d+, .+\/\d+$/);
    await second.close();
    await first.locator('#people[data-count="1"]').waitFor();
    assert.deepEqual(first.problems, []);
    await first.close();
});

test('WebSockets refused: the page falls back to SSE, gets job.done, loses the stream and resumes it through Last-Event-ID', async () => {
    const room = 'web-sse';
    const page = await openDemo(room, { viaProxy: true, blockWebSockets: true });
    try {
        assert.equal(await page.getAttribute('#connection', 'data-transport'), 'sse');
        assert.match(await page.textContent('#connection-text'), /· sse$/);
        await page.click('button[data-sample="torus.stl"]');
        await page.click('#upload-button');
        await page.locator('#job-status[data-status="done"]').waitFor();
        assert.equal((await page.textContent('#result-triangles')).trim(), '1,296');
        await stack.publish(room, 'note', { n: 1 });
        await page.locator('#log li[data-event="note"]').waitFor();
        proxy.blocked = true;
        proxy.cut();  // the stream drops; EventSource tries again by itself, with Last-Event-ID
        for (let n = 2; n <= 4; n += 1) await stack.publish(room, 'note', { n });
        proxy.blocked = false;
        await page.locator('#log li[data-event="note"]').nth(3).waitFor({ timeout: 15000 });
        await page.waitForTimeout(300);  // room for a duplicate to show up, if there were one
        const notes = (await logged(page)).filter((m) => m.event === 'note');
        assert.deepEqual(notes.map((m) => JSON.parse(m.detail).n), [1, 2, 3, 4]);
        assert.equal(await page.locator('#log li[data-local="reset"]').count(), 0,
            'the resume was exact: no reset');
        const jobEvents = (await logged(page)).filter((m) => m.event === 'job.done');
        assert.equal(jobEvents.length, 1, 'job.done once');
        await screenshot(page, 'sse-fallback');
        assert.deepEqual(page.problems.filter((p) => !/WebSocket|ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|Failed to load resource/.test(p)), []);
    } finally {
        proxy.blocked = false;
        await page.close();
    }
});
