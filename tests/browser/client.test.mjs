// roompush.js against the real sidecar, through the real nginx (the stack from tools/devstack.py).
// Run: node --experimental-websocket --test tests/browser/client.test.mjs (ROOMPUSH_BUILD_DIR).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import { connect, PublishError, RoomPushClient, tokenExpiry } from '../../web/roompush.js';
import { Stack } from './stack.mjs';
import { CuttableProxy } from './proxy.mjs';

// Short waits keep the suite fast; no jitter keeps the backoff assertions exact.
const FAST = { initial: 40, max: 320, factor: 2, jitter: 0, stableAfter: 60000 };

let stack;
let proxy;

before(async () => {
    stack = await Stack.start();
    proxy = await CuttableProxy.start(Number(new URL(stack.url).port));
});

after(async () => {
    await proxy?.close();
    await stack?.stop();
});

/** Records what a client reports; `until()` waits for a condition on the record. */
function record(client) {
    const seen = { messages: [], resets: [], states: [], errors: [], subscribed: [] };
    client.on('message', (m) => seen.messages.push(m));
    client.on('reset', (r) => seen.resets.push(r));
    client.on('state', (s) => seen.states.push(s));
    client.on('error', (e) => seen.errors.push(e));
    client.on('subscribed', (s) => seen.subscribed.push(s));
    seen.until = (predicate, what, timeout = 15000) => new Promise((resolve, reject) => {
        const deadline = Date.now() + timeout;
        const poll = () => {
            if (predicate(seen)) return resolve(seen);
            if (Date.now() > deadline) {
                return reject(new Error(`timed out waiting for ${what}; saw ${JSON.stringify({
                    states: seen.states.map((s) => s.state), resets: seen.resets,
                    messages: seen.messages.map((m) => `${m.room}#${m.seq}:${m.event}`) })}`));
            }
            setTimeout(poll, 10);
        };
        poll();
    });
    return seen;
}

const viaProxy = (path = '/ws') => `ws://127.0.0.1:${proxy.port}${path}`;
const subscribedTo = (room, count = 1) => (s) => s.subscribed.filter((x) => x.room === room).length >= count;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test('delivers each room its own messages, in order, and reports the connection state', async () => {
    const client = connect(stack.wsUrl + '/ws', { backoff: FAST });
    const seen = record(client);
    try {
        const a = client.subscribe('js-A');
        client.subscribe('js-B');
        const onlyA = [];
        a.on('message', (m) => onlyA.push(m.data.n));
        await seen.until((s) => subscribedTo('js-A')(s) && subscribedTo('js-B')(s), 'both subscriptions');
        for (let n = 1; n <= 3; n += 1) await stack.publish('js-A', 'note', { n });
        await stack.publish('js-B', 'note', { n: 99 });
        await seen.until((s) => s.messages.length === 4, 'four messages');
        assert.deepEqual(onlyA, [1, 2, 3]);
        assert.deepEqual(seen.messages.filter((m) => m.room === 'js-B').map((m) => m.data.n), [99]);
        const seqs = seen.messages.filter((m) => m.room === 'js-A').map((m) => m.seq);
        assert.deepEqual(seqs, [seqs[0], seqs[0] + 1, seqs[0] + 2]);
        assert.deepEqual(seen.states.map((s) => s.state), ['connecting', 'open']);
        assert.deepEqual(a.position, { seq: seqs[2], epoch: seen.messages[0].epoch });
    } finally {
        client.close();
    }
    assert.equal(client.state, 'closed');
});

test('refuses an invalid room id before anything is sent', () => {
    const client = new RoomPushClient(stack.wsUrl + '/ws');
    assert.throws(() => client.subscribe('no spaces'), TypeError);
    assert.throws(() => client.subscribe('x'.repeat(129)), TypeError);
});

test('backoff grows exponentially up to the cap, with jitter below the full wait', () => {
    const exact = new RoomPushClient('ws://127.0.0.1:1/ws', { backoff: { initial: 500, max: 15000, factor: 2, jitter: 0 } });
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((n) => exact.nextDelay(n)), [500, 1000, 2000, 4000, 8000, 15000, 15000]);
    let r = 0;
    const randoms = [0, 0.5, 0.999];
    const jittered = new RoomPushClient('ws://127.0.0.1:1/ws', {
        backoff: { initial: 1000, max: 15000, factor: 2, jitter: 0.5 }, random: () => randoms[r++],
    });
    assert.deepEqual(randoms.map(() => jittered.nextDelay(1)), [2000, 1500, 1001]);
});

test('reconnects with growing waits while the server cannot be reached, then resumes', async () => {
    proxy.blocked = true;
    const client = connect(viaProxy(), { backoff: FAST });
    const seen = record(client);
    try {
        client.subscribe('js-backoff');
        await seen.until((s) => s.states.filter((x) => x.state === 'reconnecting').length >= 4, 'four retries');
        const waits = seen.states.filter((x) => x.state === 'reconnecting').slice(0, 4).map((x) => x.delay);
        assert.deepEqual(waits, [40, 80, 160, 320]);
        assert.ok(seen.states.filter((x) => x.state === 'reconnecting').every((x) => x.code === 1006));
        const refusedBefore = proxy.refused;
        assert.ok(refusedBefore >= 4, `refused ${refusedBefore}`);
        proxy.blocked = false;
        await seen.until(subscribedTo('js-backoff'), 'a subscription once the server is reachable');
        assert.equal(client.state, 'open');
        await stack.publish('js-backoff', 'note', { n: 1 });
        await seen.until((s) => s.messages.length === 1, 'the message');
    } finally {
        proxy.blocked = false;
        client.close();
    }
});

test('stops on 1008 and reports the error frame; no retry', async () => {
    const client = connect(viaProxy('/ws/not-an-endpoint/x'), { backoff: FAST });
    const seen = record(client);
    try {
        await seen.until((s) => s.states.some((x) => x.state === 'stopped'), 'the stop');
        const stopped = seen.states.find((x) => x.state === 'stopped');
        assert.equal(stopped.code, 1008);
        assert.equal(seen.errors.length, 1);
        assert.equal(seen.errors[0].code, 'not_found');
        assert.deepEqual(stopped.error, seen.errors[0]);
        const accepted = proxy.accepted;
        await sleep(FAST.max * 2);
        assert.equal(proxy.accepted, accepted, 'no reconnect after 1008');
        assert.equal(client.state, 'stopped');
    } finally {
        client.close();
    }
});

test('a refused subscribe (too many rooms) is reported and the connection stays', async () => {
    const client = connect(stack.wsUrl + '/ws', { backoff: FAST });
    const seen = record(client);
    try {
        for (let n = 0; n < 65; n += 1) client.subscribe(`js-many-${n}`);  // the sidecar allows 64
        await seen.until((s) => s.subscribed.length === 64 && s.errors.length === 1, '64 rooms and one refusal');
        assert.equal(seen.errors[0].code, 'too_many_rooms');
        await sleep(200);
        assert.equal(client.state, 'open');
        assert.deepEqual(seen.states.map((s) => s.state), ['connecting', 'open']);
    } finally {
        client.close();
    }
});

test('a message delivered twice by the transport reaches the application once', async () => {
    // A WebSocket that hands every frame to the client twice: what an overlapping replay or a
    // re-sent push looks like from the client's side.
    class Doubling extends WebSocket {
        set onmessage(handler) {
            super.onmessage = handler && ((event) => { handler(event); handler(event); });
        }
        get onmessage() { return super.onmessage; }
    }
    const client = connect(stack.wsUrl + '/ws', { backoff: FAST, WebSocket: Doubling });
    const seen = record(client);
    try {
        client.subscribe('js-dup');
        await seen.until(subscribedTo('js-dup'), 'the subscription');
        for (let n = 1; n <= 5; n += 1) await stack.publish('js-dup', 'note', { n });
        await seen.until((s) => s.messages.length >= 5, 'five messages');
        await sleep(200);
        assert.deepEqual(seen.messages.map((m) => m.data.n), [1, 2, 3, 4, 5]);
        assert.equal(seen.resets.length, 0);
    } finally {
        client.close();
    }
});

// Keeps a room alive (a room without members is forgotten) with a plain WebSocket member.
async function keepAlive(room) {
    const socket = new WebSocket(`${stack.wsUrl}/ws/rooms/${room}`);
    await new Promise((resolve, reject) => {
        socket.onmessage = () => resolve();
        socket.onerror = () => reject(new Error('keep-alive member could not join'));
    });
    return socket;
}

test('resumes after a dropped connection: what was published meanwhile arrives once, in order', async () => {
    const room = 'js-resume';
    const member = await keepAlive(room);
    const client = connect(viaProxy(), { backoff: FAST });
    const seen = record(client);
    try {
        client.subscribe(room);
        await seen.until(subscribedTo(room), 'the subscription');
        for (let n = 1; n <= 3; n += 1) await stack.publish(room, 'note', { n });
        await seen.until((s) => s.messages.length === 3, 'three messages');
        proxy.blocked = true;
        proxy.cut();
        await seen.until((s) => s.states.some((x) => x.state === 'reconnecting'), 'the drop');
        for (let n = 4; n <= 6; n += 1) await stack.publish(room, 'note', { n });
        proxy.blocked = false;
        await seen.until(subscribedTo(room, 2), 'the second subscription');
        for (let n = 7; n <= 8; n += 1) await stack.publish(room, 'note', { n });
        await seen.until((s) => s.messages.some((m) => m.data.n === 8), 'the last message');
        assert.deepEqual(seen.messages.map((m) => m.data.n), [1, 2, 3, 4, 5, 6, 7, 8],
            'the messages published while disconnected are replayed (resume with since/epoch)');
        const seqs = seen.messages.map((m) => m.seq);
        assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i));
        assert.deepEqual(seen.resets, []);
    } finally {
        proxy.blocked = false;
        client.close();
        member.close();
    }
});

test('a restarted sidecar means a new epoch: one reset, then the new messages', async () => {
    const room = 'js-reset';
    const client = connect(stack.wsUrl + '/ws', { backoff: FAST });
    const seen = record(client);
    try {
        const subscription = client.subscribe(room);
        await seen.until(subscribedTo(room), 'the subscription');
        await stack.publish(room, 'note', { n: 1 });
        await seen.until((s) => s.messages.length === 1, 'the first message');
        const oldEpoch = seen.messages[0].epoch;
        await stack.restartSidecar();
        await seen.until(subscribedTo(room, 2), 'the subscription after the restart');
        const closeCodes = seen.states.filter((x) => x.state === 'reconnecting').map((x) => x.code);
        assert.ok(closeCodes.length >= 1 && closeCodes.every((code) => code === 1001 || code === 1006),
            `close codes ${closeCodes}`);
        await stack.publish(room, 'note', { n: 2 });
        await seen.until((s) => s.messages.length === 2, 'the second message');
        assert.equal(seen.resets.length, 1, JSON.stringify(seen.resets));
        assert.equal(seen.resets[0].room, room);
        assert.notEqual(seen.resets[0].epoch, oldEpoch);
        assert.equal(seen.resets[0].previous.epoch, oldEpoch);
        assert.equal(seen.messages[1].epoch, seen.resets[0].epoch);
        assert.deepEqual(subscription.position, { seq: seen.messages[1].seq, epoch: seen.resets[0].epoch });
    } finally {
        client.close();
    }
});

test('a reset that replays nothing, then a drop: the resume still starts from the head', async () => {
    // After a reset the position is the next message's seq; until one comes, it is the head the
    // `subscribed` frame named. Without it the resume had an epoch and no `since`: live only,
    // and what was published during the drop was missed without a reset.
    const room = 'js-reset-drop';
    const client = connect(viaProxy(), { backoff: FAST });
    const seen = record(client);
    try {
        client.subscribe(room);
        await seen.until(subscribedTo(room), 'the subscription');
        await stack.restartSidecar();  // a new epoch with nothing retained: reset, no replay
        await seen.until((s) => s.resets.length === 1, 'the reset');
        proxy.blocked = true;
        proxy.cut();
        await seen.until((s) => s.states.filter((x) => x.state === 'reconnecting').length >= 2, 'the drop');
        await stack.publish(room, 'note', { n: 1 });
        proxy.blocked = false;
        await seen.until((s) => s.messages.some((m) => m.data.n === 1), 'the message sent during the drop');
        // The room, empty while nobody was in it, started afresh for that publish: its new
        // epoch is announced too, and the message is in it.
        assert.equal(seen.resets.at(-1).epoch, seen.messages[0].epoch, JSON.stringify(seen.resets));
    } finally {
        proxy.blocked = false;
        client.close();
    }
});

test('a stale epoch or a too old since gets an explicit reset and what is retained', async () => {
    const room = 'js-stale';
    const member = await keepAlive(room);
    try {
        await stack.publish(room, 'note', { n: 1 });
        await stack.publish(room, 'note', { n: 2 });
        const client = connect(stack.wsUrl + '/ws', { backoff: FAST });
        const seen = record(client);
        try {
            client.subscribe(room, { since: 0, epoch: 'not-the-epoch' });
            await seen.until((s) => s.resets.length >= 1 && s.messages.length >= 2, 'a reset and the retained messages', 5000);
            await sleep(200);  // room for a second reset or a duplicate, if there were one
            assert.equal(seen.resets.length, 1, 'one reset, however many frames announced it');
            assert.notEqual(seen.resets[0].epoch, 'not-the-epoch');
            assert.deepEqual(seen.messages.map((m) => m.data.n), [1, 2]);
        } finally {
            client.close();
        }
    } finally {
        member.close();
    }
});

test('publish() resolves with the ack; every member gets the message with from, once per id', async () => {
    const writer = connect(stack.wsUrl + '/ws', { backoff: FAST });
    const reader = connect(stack.wsUrl + '/ws', { backoff: FAST });
    const seenByWriter = record(writer);
    const seenByReader = record(reader);
    try {
        const room = writer.subscribe('js-chat');
        reader.subscribe('js-chat');
        await seenByWriter.until(subscribedTo('js-chat'), 'the writer in the room');
        await seenByReader.until(subscribedTo('js-chat'), 'the reader in the room');
        const ack = await room.publish('note', { text: 'hello' }, { id: 'js-note-1' });
        assert.deepEqual({ room: ack.room, id: ack.id, duplicate: ack.duplicate },
            { room: 'js-chat', id: 'js-note-1', duplicate: false });
        await seenByReader.until((s) => s.messages.length === 1, 'the note at the reader');
        const note = seenByReader.messages[0];
        assert.equal(note.seq, ack.seq);
        assert.deepEqual(note.data, { text: 'hello' });
        assert.match(note.from.conn, /^.+\/\d+$/);
        const again = await writer.publish('js-chat', 'note', { text: 'hello' }, { id: 'js-note-1' });
        assert.deepEqual({ seq: again.seq, duplicate: again.duplicate }, { seq: ack.seq, duplicate: true });
        await sleep(200);
        assert.equal(seenByReader.messages.length, 1, 'the same id is not delivered twice');
    } finally {
        writer.close();
        reader.close();
    }
});

test('a refused publish rejects with the code and the connection stays; none while closed', async () => {
    const client = connect(stack.wsUrl + '/ws', { backoff: FAST });
    const seen = record(client);
    try {
        await assert.rejects(client.publish('js-chat-2', 'note', 1),
            (error) => error instanceof PublishError && error.code === 'not_connected');
        client.subscribe('js-chat-2');
        await seen.until(subscribedTo('js-chat-2'), 'the room');
        await assert.rejects(client.publish('js-chat-2', 'job.done', { forged: true }),
            (error) => error instanceof PublishError && error.code === 'event_reserved' && error.room === 'js-chat-2');
        await assert.rejects(client.publish('js-elsewhere', 'note', 1),
            (error) => error.code === 'not_subscribed');
        assert.equal(client.state, 'open');
        const ack = await client.publish('js-chat-2', 'note', 'still works');
        assert.ok(Number.isInteger(ack.seq));
        assert.deepEqual(seen.errors, [], 'a refused publish is its promise\'s to report');
    } finally {
        client.close();
    }
});

test('the TypeScript declarations name every export of the module', async () => {
    const module = await import('../../web/roompush.js');
    const declarations = await readFile(new URL('../../web/roompush.d.ts', import.meta.url), 'utf8');
    for (const name of Object.keys(module)) {
        assert.match(declarations, new RegExp(`export declare (const|class|function) ${name}\\b`), name);
    }
    for (const member of ['publish', 'presence', 'subscribe', 'unsubscribe', 'close']) {
        assert.match(declarations, new RegExp(`\\n    ${member}\\(`), member);
    }
});

test('presence: three clients join and leave; each sees the others come and go, presence() lists them', async () => {
    const clients = [0, 1, 2].map(() => connect(stack.wsUrl + '/ws', { backoff: FAST }));
    const changes = clients.map(() => []);
    clients.forEach((client, n) => {
        client.on('join', (e) => changes[n].push(`join ${e.member.conn}`));
        client.on('leave', (e) => changes[n].push(`leave ${e.member.conn}`));
    });
    const seen = clients.map(record);
    try {
        const conns = [];
        for (const [n, client] of clients.entries()) {
            client.subscribe('js-people');
            await seen[n].until(subscribedTo('js-people'), `client ${n} in the room`);
            const answer = await client.room('js-people').presence();
            conns.push(answer.members.find((m) => !conns.includes(m.conn)).conn);  // this client
            assert.equal(answer.count, n + 1);
        }
        clients[2].unsubscribe('js-people');
        await seen[0].until(() => changes[0].length === 3, 'the third leaving, at the first');
        assert.deepEqual(changes[0], [`join ${conns[1]}`, `join ${conns[2]}`, `leave ${conns[2]}`]);
        assert.deepEqual(changes[1], [`join ${conns[2]}`, `leave ${conns[2]}`]);
        assert.deepEqual(changes[2], []);
        const after = await clients[1].presence('js-people');
        assert.deepEqual(after.members.map((m) => m.conn).sort(), conns.slice(0, 2).sort());
        await assert.rejects(clients[2].presence('js-people'), (e) => e.code === 'not_subscribed');
    } finally {
        for (const client of clients) client.close();
    }
});

test('heartbeat: a quiet healthy link is pinged and kept; a silent one is given up and resumed', async () => {
    const heartbeat = { interval: 150, timeout: 250 };
    const client = connect(viaProxy('/ws'), { backoff: FAST, heartbeat });
    const seen = record(client);
    const beats = [];
    client.on('heartbeat', (beat) => beats.push(beat));
    try {
        client.subscribe('js-beat');
        await seen.until(subscribedTo('js-beat'), 'the room');
        await sleep(700);
        assert.ok(beats.length >= 2, `pongs seen: ${beats.length}`);
        assert.ok(beats.every((b) => b.transport === 'websocket'));
        assert.deepEqual(seen.states.map((s) => s.state), ['connecting', 'open'], 'a quiet link is kept');

        proxy.freeze();  // nothing passes, nothing closes
        await seen.until((s) => s.states.some((x) => x.state === 'reconnecting'), 'the heartbeat to give up', 3000);
        const given = seen.states.find((x) => x.state === 'reconnecting');
        assert.equal(given.code, 4000);
        assert.match(given.reason, /^heartbeat: nothing heard for \d+ ms$/);
        await stack.publish('js-beat', 'while-silent', { n: 1 });
        proxy.thaw();
        await seen.until((s) => s.messages.some((m) => m.event === 'while-silent'), 'the resume');
        assert.equal(seen.messages.filter((m) => m.event === 'while-silent').length, 1);
    } finally {
        proxy.thaw();
        client.close();
    }
});

// -- tokens that refresh (a stack whose rooms need tokens) --------------------------------------

test('with 2-second tokens and getToken, a room stays subscribed for 30 s through two sidecar restarts', { timeout: 90000 }, async () => {
    const authStack = await Stack.start({ auth: true });
    let asked = 0;
    const client = connect(authStack.wsUrl + '/ws', {
        backoff: FAST,
        getToken: async (room) => { asked += 1; return authStack.token(room, '2s'); },
    });
    const seen = record(client);
    try {
        client.subscribe('js-auth-A');
        await seen.until(subscribedTo('js-auth-A'), 'the first subscribe');
        const started = Date.now();
        let n = 0;
        for (const restartAt of [10000, 20000, 30000]) {
            while (Date.now() - started < restartAt) {
                n += 1;
                await authStack.publish('js-auth-A', 'tick', { n });
                await seen.until((s) => s.messages.some((m) => m.data.n === n), `tick ${n}`);
                await sleep(500);
            }
            if (restartAt < 30000) await authStack.restartSidecar();
        }
        const ticks = seen.messages.map((m) => m.data.n);
        assert.deepEqual(ticks, Array.from({ length: n }, (_, i) => i + 1), 'every tick once, in order');
        assert.equal(client.state, 'open');
        assert.ok(!seen.states.some((s) => s.state === 'stopped'), 'never stopped');
        assert.deepEqual(seen.errors.filter((e) => e.code === 'token_expired'), [],
            'tokens were renewed before they expired');
        assert.ok(asked >= 15, `getToken asked ${asked} times in 30 s of 2-second tokens`);
        const opened = seen.states.filter((s) => s.state === 'open').length;
        assert.equal(opened, 3, 'only the two restarts dropped the connection');
    } finally {
        client.close();
        await authStack.stop();
    }
});

test('a room whose getToken fails reports it and asks again; the other rooms keep working', { timeout: 60000 }, async () => {
    const authStack = await Stack.start({ auth: true });
    const asked = { good: 0, broken: 0, forged: 0 };
    const client = connect(authStack.wsUrl + '/ws', {
        backoff: FAST,
        getToken: async (room) => {
            if (room === 'js-auth-broken') { asked.broken += 1; throw new Error('the app said no'); }
            if (room === 'js-auth-forged') { asked.forged += 1; return (await authStack.token('js-auth-other')); }
            asked.good += 1;
            return authStack.token(room);
        },
    });
    const seen = record(client);
    const brokenErrors = [];
    try {
        client.subscribe('js-auth-good');
        client.subscribe('js-auth-broken').on('error', (e) => brokenErrors.push(e));
        client.subscribe('js-auth-forged');
        await seen.until(subscribedTo('js-auth-good'), 'the good room');
        await seen.until((s) => s.errors.filter((e) => e.room === 'js-auth-broken').length >= 2 &&
            s.errors.filter((e) => e.room === 'js-auth-forged').length >= 2, 'two refusals of each');
        await authStack.publish('js-auth-good', 'still', { ok: true });
        await seen.until((s) => s.messages.some((m) => m.room === 'js-auth-good'), 'the good room\'s message');
        assert.equal(client.state, 'open');
        assert.equal(brokenErrors[0].code, 'token_unavailable');
        assert.equal(seen.errors.find((e) => e.room === 'js-auth-forged').code, 'token_wrong_room');
        assert.ok(asked.broken >= 2 && asked.forged >= 2, 'asked again after each refusal');
        assert.equal(asked.good, 1, 'a valid token is not asked for again before it has to be');
        assert.equal(client.room('js-auth-broken').subscribed, false);
    } finally {
        client.close();
        await authStack.stop();
    }
});

test('tokenExpiry reads exp, and nothing from what is not a token', () => {
    const payload = Buffer.from(JSON.stringify({ room: 'a', exp: 1800000000 })).toString('base64url');
    assert.equal(tokenExpiry(`${payload}.sig`), 1800000000 * 1000);
    assert.equal(tokenExpiry('not a token'), null);
    assert.equal(tokenExpiry(''), null);
});
