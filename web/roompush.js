// roompush.js: the browser client of roompush. An ES module with no dependencies and no build
// step; it also runs in Node (20 with --experimental-websocket, 22+) for the tests.
//
//   import { connect, upload } from './roompush.js';
//   const client = connect('/ws');
//   client.subscribe('demo').on('message', (m) => console.log(m.event, m.data));
//
// One WebSocket (the multi-room `/ws` endpoint) carries every room. The client remembers each
// room's last `seq` and `epoch`; after a drop it reconnects with exponential backoff and jitter
// and subscribes again with `since`/`epoch`, so the sidecar replays what was missed. A message
// at or below the last seq of the same epoch is dropped: the application sees each message once.
// Protocol: docs/websocket.md; API: docs/browser.md. One file on purpose: nginx serves it as it
// is and a page imports it without a build step.

const ROOM_ID = /^[A-Za-z0-9._:-]{1,128}$/;

// transport 'auto': WebSocket attempts that never opened, in a row, before server-sent events.
const WEBSOCKET_TRIES_BEFORE_SSE = 2;

// A token is renewed once this share of its life is over, and asked for again at (re)subscribe
// when less than REFRESH_MARGIN_MS of it is left.
const REFRESH_AT = 0.75;
const REFRESH_MARGIN_MS = 5000;

/** The `exp` of a room token (docs/security.md), in ms; null when it cannot be read. */
export function tokenExpiry(token) {
    try {
        const payload = token.split('.')[0].replace(/-/g, '+').replace(/_/g, '/');
        const exp = JSON.parse(globalThis.atob(payload + '='.repeat((4 - payload.length % 4) % 4))).exp;
        return Number.isFinite(exp) ? exp * 1000 : null;
    } catch {
        return null;
    }
}

// Close codes after which trying again would only repeat the refusal (docs/websocket.md):
// policy or auth (1008), and frames this client should never have sent.
const FINAL_CLOSE_CODES = new Set([1002, 1003, 1007, 1008, 1009, 1010]);

// A link can die without a close (a laptop lid, a NAT that forgot the connection): after
// `interval` ms without a frame the client sends `ping` (server-sent events get the server's
// heartbeat every 15 s instead), and after `timeout` more it gives the connection up and
// reconnects. { interval, timeout } or false.
export const DEFAULT_HEARTBEAT = Object.freeze({ interval: 25000, timeout: 10000 });

export const DEFAULT_BACKOFF = Object.freeze({
    initial: 500,   // ms before the first retry
    max: 15000,     // ms, the longest wait
    factor: 2,      // each failed attempt multiplies the wait
    jitter: 0.5,    // up to this fraction is taken off at random, so clients do not retry in step
    stableAfter: 5000, // ms a connection must live before the backoff starts again from `initial`
});

// A minimal event emitter: on() returns the function that removes the handler.
class Emitter {
    #handlers = new Map();

    on(type, handler) {
        if (!this.#handlers.has(type)) this.#handlers.set(type, new Set());
        this.#handlers.get(type).add(handler);
        return () => this.off(type, handler);
    }

    off(type, handler) {
        this.#handlers.get(type)?.delete(handler);
    }

    emit(type, detail) {
        for (const handler of [...(this.#handlers.get(type) ?? [])]) {
            try {
                handler(detail);
            } catch (error) {
                // One broken handler must not stop delivery to the others, nor the client.
                setTimeout(() => { throw error; });
            }
        }
    }
}

/** One room of a client: its own `message` and `reset` events, and where it stands. */
export class Subscription extends Emitter {
    constructor(client, room, { since, epoch, token } = {}) {
        super();
        this.client = client;
        this.room = room;
        this.token = token;
        this.seq = Number.isInteger(since) ? since : null;  // last seq delivered (null: none yet)
        this.epoch = typeof epoch === 'string' && epoch !== '' ? epoch : null;
        this.subscribed = false;       // `subscribed` seen on the current connection
        this.head = null;              // the head that `subscribed` named on this connection
        this.resetOnThisConnection = null;  // epoch a reset was already reported for
        this.refreshTimer = null;      // renews the token before it expires (getToken)
        this.retryTimer = null;        // asks for a token again after a refusal (getToken)
        this.refusals = 0;             // token refusals in a row, for the backoff
        this.tokenRequest = null;      // the getToken() call under way, if any
    }

    /** Where to resume from later (e.g. after a page reload): {seq, epoch}. */
    get position() {
        return { seq: this.seq, epoch: this.epoch };
    }

    unsubscribe() {
        this.client.unsubscribe(this.room);
    }

    /** Who is in this room: RoomPushClient.presence(this.room). */
    presence() {
        return this.client.presence(this.room);
    }

    /** Sends a message to this room: RoomPushClient.publish(this.room, ...). */
    publish(event, data, options) {
        return this.client.publish(this.room, event, data, options);
    }
}

/** What publish() rejects with: the sidecar's `code` (docs/websocket.md), or `disconnected`. */
export class PublishError extends Error {
    constructor(code, message, room, id) {
        super(message);
        this.name = 'PublishError';
        this.code = code;
        this.room = room;
        this.id = id;
    }
}

function randomId() {
    const bytes = new Uint8Array(12);
    globalThis.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A connection to roompush's `/ws` endpoint that survives drops. See connect(). */
export class RoomPushClient extends Emitter {
    #url;
    #WebSocket;
    #backoff;
    #random;
    #socket = null;
    #rooms = new Map();      // room -> Subscription
    #state = 'idle';
    #attempt = 0;            // failed attempts since the last stable connection
    #timer = null;
    #openedAt = 0;
    #lastError = null;       // the last `error` frame, reported with the close that follows it
    #getToken;               // async (room) => token, or undefined: the rooms' tokens are fixed
    #transport;              // 'auto' | 'websocket' | 'sse': what was asked for
    #usingSse = false;       // the transport in use is server-sent events
    #sseUrl;                 // the /sse endpoint
    #EventSource;
    #unopened = 0;           // WebSocket attempts in a row that never opened
    #heartbeat;              // {interval, timeout} or false
    #heartbeatTimer = null;
    #lastHeard = 0;          // when the current connection last sent anything
    #pinged = false;         // a ping is out since then
    #pending = new Map();    // publish id -> {resolve, reject, room}: waiting for the ack
    #presenceAsked = new Map();  // room -> [{resolve, reject}]: presence answers, in order

    constructor(url = '/ws', options = {}) {
        super();
        this.#url = resolveUrl(url);
        this.#WebSocket = options.WebSocket ?? globalThis.WebSocket;
        this.#EventSource = options.EventSource ?? globalThis.EventSource;
        this.#transport = options.transport ?? 'auto';
        if (!['auto', 'websocket', 'sse'].includes(this.#transport)) {
            throw new TypeError(`roompush: transport must be 'auto', 'websocket' or 'sse'`);
        }
        this.#sseUrl = resolveSseUrl(options.sseUrl ?? sseUrlFor(this.#url));
        this.#usingSse = this.#transport === 'sse' ||
            (this.#transport === 'auto' && typeof this.#WebSocket !== 'function');
        if (this.#usingSse && typeof this.#EventSource !== 'function') {
            throw new TypeError('roompush: no EventSource implementation (pass options.EventSource)');
        }
        if (!this.#usingSse && typeof this.#WebSocket !== 'function') {
            throw new TypeError('roompush: no WebSocket implementation (pass options.WebSocket)');
        }
        this.#backoff = { ...DEFAULT_BACKOFF, ...(options.backoff ?? {}) };
        this.#random = options.random ?? Math.random;
        this.#getToken = options.getToken;
        this.#heartbeat = options.heartbeat === false ? false
            : { ...DEFAULT_HEARTBEAT, ...(options.heartbeat ?? {}) };
    }

    /** 'websocket' or 'sse': the transport in use (auto falls back to sse). */
    get transport() {
        return this.#usingSse ? 'sse' : 'websocket';
    }

    /** idle | connecting | open | reconnecting | stopped (refused, will not retry) | closed */
    get state() {
        return this.#state;
    }

    get url() {
        return this.#url;
    }

    /**
     * Opens the connection (connect() calls this). The first attempt starts in the next task, so
     * handlers attached right after connect() see every state change, `connecting` included.
     */
    open() {
        const idle = this.#state === 'idle' || this.#state === 'stopped' || this.#state === 'closed';
        if (idle && this.#timer === null) {
            this.#attempt = 0;
            this.#state = 'idle';
            this.#timer = setTimeout(() => this.#dial(), 0);
        }
        return this;
    }

    /**
     * Joins a room; `since`/`epoch` resume from a known position, `token` is sent with every
     * subscribe. Returns the room's Subscription (the same one if already subscribed).
     */
    subscribe(room, options = {}) {
        if (typeof room !== 'string' || !ROOM_ID.test(room)) {
            throw new TypeError(`roompush: invalid room id ${JSON.stringify(room)} (allowed: [A-Za-z0-9._:-]{1,128})`);
        }
        let subscription = this.#rooms.get(room);
        if (!subscription) {
            subscription = new Subscription(this, room, options);
            this.#rooms.set(room, subscription);
            if (this.#state === 'open' || this.#getToken) this.#subscribeWithToken(subscription);
        }
        return subscription;
    }

    unsubscribe(room) {
        const subscription = this.#rooms.get(room);
        if (!subscription) return;
        this.#rooms.delete(room);
        clearTimeout(subscription.refreshTimer);
        clearTimeout(subscription.retryTimer);
        if (this.#state === 'open') this.#send({ op: 'unsubscribe', room });
    }

    /**
     * Sends a message to a room this client is in; the room's token must grant `publish` (or the
     * sidecar runs open rooms with --client-publish). Resolves with the ack {room, seq, id,
     * duplicate}; rejects with a PublishError: the sidecar's refusal (publish_forbidden,
     * rate_limited, message_too_big, event_reserved, not_subscribed, unavailable),
     * `not_connected` when no connection is open, `disconnected` when it dropped before the ack.
     * The `id` (random by default) is the idempotency key: publishing again with the same id
     * after `disconnected` or `unavailable` never delivers twice.
     */
    publish(room, event, data, { id = randomId() } = {}) {
        if (this.#state !== 'open') {
            return Promise.reject(new PublishError('not_connected', 'roompush: the connection is not open', room, id));
        }
        if (this.#pending.has(id)) {
            return Promise.reject(new PublishError('in_flight', `roompush: a publish with id ${id} is waiting for its ack`, room, id));
        }
        return new Promise((resolve, reject) => {
            this.#pending.set(id, { resolve, reject, room });
            this.#send({ op: 'publish', room, event, data, id });
        });
    }

    /**
     * Who is in a room this client is in (its token must grant `presence`, or open rooms with
     * --presence): resolves with {room, count, members: [{conn, user, info}]} (at most
     * --presence-max-members named); rejects with a PublishError-like error whose `code` is
     * presence_forbidden, not_subscribed, not_connected or disconnected.
     */
    presence(room) {
        if (this.#state !== 'open') {
            return Promise.reject(new PublishError('not_connected', 'roompush: the connection is not open', room, ''));
        }
        return new Promise((resolve, reject) => {
            if (!this.#presenceAsked.has(room)) this.#presenceAsked.set(room, []);
            this.#presenceAsked.get(room).push({ resolve, reject });
            this.#send({ op: 'presence', room });
        });
    }

    /** The Subscription of a room, or undefined. */
    room(room) {
        return this.#rooms.get(room);
    }

    /** Closes for good: no reconnect. */
    close() {
        this.#failPending('disconnected', 'roompush: the client was closed before the ack');
        for (const subscription of this.#rooms.values()) {
            clearTimeout(subscription.refreshTimer);
            clearTimeout(subscription.retryTimer);
        }
        clearTimeout(this.#timer);
        clearTimeout(this.#heartbeatTimer);
        this.#timer = null;
        const socket = this.#socket;
        this.#socket = null;
        if (socket) {
            detach(socket);
            socket.close(1000, 'client closed');
        }
        this.#setState('closed', {});
    }

    // -- heartbeat ---------------------------------------------------------------------------

    #heard() {
        this.#lastHeard = Date.now();
        this.#pinged = false;
    }

    #watchHeartbeat() {
        if (!this.#heartbeat) return;
        const { interval, timeout } = this.#heartbeat;
        clearTimeout(this.#heartbeatTimer);
        this.#heartbeatTimer = setTimeout(() => {
            if (this.#socket === null) return;
            const quiet = Date.now() - this.#lastHeard;
            if (quiet >= interval + timeout) {
                // Dead without a close: give it up (a late close is ignored) and reconnect.
                const socket = this.#socket;
                this.#closed(4000, `heartbeat: nothing heard for ${quiet} ms`);
                socket.close(4000, 'heartbeat timeout');
                return;
            }
            if (quiet >= interval && !this.#pinged && !this.#usingSse) {
                this.#pinged = true;
                this.#send({ op: 'ping' });
            }
            this.#watchHeartbeat();
        }, Math.max(10, Math.min(interval, timeout) / 4));
    }

    // -- connection --------------------------------------------------------------------------

    #dial() {
        this.#timer = null;
        this.#setState('connecting', { attempt: this.#attempt + 1 });
        let socket;
        try {
            socket = this.#usingSse ? new SseSocket(this.#sseUrl, this.#EventSource)
                : new this.#WebSocket(this.#url);
        } catch (error) {
            this.#stop({ code: 0, reason: String(error?.message ?? error) });
            return;
        }
        this.#socket = socket;
        this.#lastError = null;
        socket.onopen = () => {
            this.#openedAt = Date.now();
            this.#unopened = 0;
            this.#heard();
            this.#watchHeartbeat();
            for (const subscription of this.#rooms.values()) subscription.subscribed = false;
            this.#setState('open', {});
            for (const subscription of this.#rooms.values()) this.#subscribeWithToken(subscription);
        };
        socket.onmessage = (event) => {
            this.#heard();
            this.#receive(event.data);
        };
        socket.onclose = (event) => this.#closed(event.code, event.reason);
        // Browsers follow an error with a close event that carries the code. Node's WebSocket
        // (undici, Node 20) may not when the handshake fails: a failed attempt is a 1006 then.
        socket.onerror = () => {
            if (!this.#openedAt) this.#closed(1006, '');
        };
    }

    #closed(code, reason) {
        if (this.#socket === null) return;
        detach(this.#socket);
        this.#socket = null;
        clearTimeout(this.#heartbeatTimer);
        this.#failPending('disconnected', 'roompush: the connection dropped before the ack; publish again with the same id');
        const detail = { code, reason: reason || this.#lastError?.message || '' };
        if (this.#lastError) detail.error = this.#lastError;
        if (FINAL_CLOSE_CODES.has(code)) {
            this.#stop(detail);
            return;
        }
        // A network that never lets a WebSocket open (a proxy that strips Upgrade): with
        // transport 'auto', the next attempt is server-sent events, with the same rooms.
        if (!this.#openedAt && this.#transport === 'auto' && !this.#usingSse &&
            ++this.#unopened >= WEBSOCKET_TRIES_BEFORE_SSE && typeof this.#EventSource === 'function') {
            this.#usingSse = true;
            this.emit('transport', { transport: 'sse' });
        }
        if (this.#openedAt && Date.now() - this.#openedAt >= this.#backoff.stableAfter) this.#attempt = 0;
        this.#openedAt = 0;
        const delay = this.nextDelay(this.#attempt);
        this.#attempt += 1;
        this.#setState('reconnecting', { ...detail, attempt: this.#attempt, delay });
        this.#timer = setTimeout(() => this.#dial(), delay);
    }

    /** The wait before retry number `attempt` (0-based): exponential, capped, with jitter. */
    nextDelay(attempt) {
        const { initial, max, factor, jitter } = this.#backoff;
        const full = Math.min(max, initial * factor ** attempt);
        return Math.round(full * (1 - jitter * this.#random()));
    }

    #stop(detail) {
        this.#setState('stopped', detail);
    }

    #setState(state, detail) {
        const previous = this.#state;
        this.#state = state;
        this.emit('state', { state, previous, ...detail });
    }

    #failPending(code, message) {
        const pending = [...this.#pending.entries()];
        this.#pending.clear();
        for (const [id, { reject, room }] of pending) reject(new PublishError(code, message, room, id));
        const asked = [...this.#presenceAsked.entries()];
        this.#presenceAsked.clear();
        for (const [room, waiting] of asked) {
            for (const { reject } of waiting) reject(new PublishError(code, message, room, ''));
        }
    }

    // The oldest presence() of `room` gets this answer or refusal; true when there was one.
    #answerPresence(room, settle) {
        const waiting = this.#presenceAsked.get(room);
        if (!waiting?.length) return false;
        settle(waiting.shift());
        if (!waiting.length) this.#presenceAsked.delete(room);
        return true;
    }

    #presenceChange(frame) {
        const detail = frame.type === 'presence_count'
            ? { room: frame.room, count: frame.count }
            : { room: frame.room, member: frame.member };
        this.#rooms.get(frame.room)?.emit(frame.type, detail);
        this.emit(frame.type, detail);
    }

    #settle(frame) {
        const pending = this.#pending.get(frame.id);
        if (!pending) return false;
        this.#pending.delete(frame.id);
        if (frame.type === 'published') {
            pending.resolve({ room: frame.room, seq: frame.seq, id: frame.id, duplicate: frame.duplicate === true });
        } else {
            pending.reject(new PublishError(frame.code, frame.message, frame.room, frame.id));
        }
        return true;
    }

    #send(object) {
        if (this.#socket && this.#state === 'open') this.#socket.send(JSON.stringify(object));
    }

    /**
     * Subscribes with a token that will still be valid: with getToken, a new one is asked for
     * first when the one held is missing or about to expire (or `fresh` is asked for).
     */
    async #subscribeWithToken(subscription, fresh = false) {
        if (this.#getToken) {
            const expiry = subscription.token ? tokenExpiry(subscription.token) : null;
            const stale = !subscription.token || (expiry !== null && expiry - Date.now() < REFRESH_MARGIN_MS);
            // One request at a time per room: whoever asked subscribes once it is answered (if
            // the connection is open by then; else the open does).
            if (subscription.tokenRequest) return;
            if (fresh || stale) {
                let token;
                try {
                    subscription.tokenRequest = Promise.resolve(this.#getToken(subscription.room));
                    token = await subscription.tokenRequest;
                } catch (error) {
                    this.#roomRefused(subscription, { code: 'token_unavailable', message: String(error?.message ?? error) });
                    return;
                } finally {
                    subscription.tokenRequest = null;
                }
                if (this.#rooms.get(subscription.room) !== subscription) return;  // left meanwhile
                subscription.token = token;
            }
            this.#scheduleRefresh(subscription);
        }
        if (this.#state === 'open') this.#sendSubscribe(subscription);
    }

    // Renewed while the connection is open: subscribing again with the new token changes nothing
    // for the room (the sidecar replays nothing past the position sent) and keeps the room's
    // rights current; the connection is never dropped for it.
    #scheduleRefresh(subscription) {
        clearTimeout(subscription.refreshTimer);
        const expiry = subscription.token ? tokenExpiry(subscription.token) : null;
        if (expiry === null) return;
        const wait = Math.max(500, (expiry - Date.now()) * REFRESH_AT);
        subscription.refreshTimer = setTimeout(() => {
            if (this.#rooms.get(subscription.room) === subscription) this.#subscribeWithToken(subscription, true);
        }, wait);
    }

    // A room whose token was refused (or could not be had) is left on this connection; the
    // other rooms go on. With getToken a new token is asked for after a backoff; without it the
    // token would only be refused again.
    #roomRefused(subscription, error) {
        subscription.subscribed = false;
        const detail = { ...error, room: subscription.room };
        subscription.emit('error', detail);
        this.emit('error', detail);
        if (!this.#getToken || this.#rooms.get(subscription.room) !== subscription) return;
        const delay = this.nextDelay(subscription.refusals);
        subscription.refusals += 1;
        clearTimeout(subscription.retryTimer);
        subscription.retryTimer = setTimeout(() => {
            if (this.#rooms.get(subscription.room) === subscription) this.#subscribeWithToken(subscription, true);
        }, delay);
    }

    #sendSubscribe(subscription) {
        const command = { op: 'subscribe', room: subscription.room };
        // After a reset that replayed nothing, the position is the head `subscribed` named:
        // without a `since` the sidecar would send live messages only.
        const since = subscription.seq ?? subscription.head;
        if (since !== null) command.since = since;
        if (subscription.epoch !== null) command.epoch = subscription.epoch;
        if (subscription.token !== undefined) command.token = subscription.token;
        subscription.resetOnThisConnection = null;
        this.#send(command);
    }

    // -- frames ------------------------------------------------------------------------------

    #receive(data) {
        let frame;
        try {
            frame = JSON.parse(data);
        } catch {
            return;  // the sidecar sends JSON only; anything else is not ours to interpret
        }
        if (frame?.type === 'published') {
            this.#settle(frame);
            return undefined;
        }
        if (frame?.type === 'pong' || frame?.type === 'heartbeat') {
            this.emit('heartbeat', { transport: this.transport, at: this.#lastHeard });
            return undefined;
        }
        // A refused publish is its promise's to report.
        if (frame?.type === 'error' && typeof frame.id === 'string' && this.#settle(frame)) return undefined;
        if (frame?.type === 'presence') {
            this.#answerPresence(frame.room, ({ resolve }) => resolve({ room: frame.room, count: frame.count, members: frame.members }));
            return undefined;
        }
        if (frame?.type === 'join' || frame?.type === 'leave' || frame?.type === 'presence_count') {
            this.#presenceChange(frame);
            return undefined;
        }
        if (frame?.type === 'error' && ['presence_forbidden', 'not_subscribed', 'not_supported'].includes(frame.code) &&
            this.#answerPresence(frame.room, ({ reject }) => reject(new PublishError(frame.code, frame.message, frame.room, '')))) {
            return undefined;
        }
        const refusedRoom = frame?.type === 'error' && typeof frame.room === 'string' &&
            (String(frame.code).startsWith('token_') || frame.code === 'stream_refused')
            ? this.#rooms.get(frame.room) : undefined;
        if (refusedRoom) {
            this.#roomRefused(refusedRoom, { code: frame.code, message: frame.message });
            return undefined;
        }
        if (frame?.type === 'error') {
            // Either the reason for the close that follows, or a refused command (e.g.
            // too_many_rooms) on a connection that stays open: reported at once in both cases.
            this.#lastError = { code: frame.code, message: frame.message };
            if (typeof frame.room === 'string') this.#lastError.room = frame.room;
            this.emit('error', this.#lastError);
            return undefined;
        }
        this.#lastError = null;  // only an error right before a close explains that close
        switch (frame?.type) {
            case 'message': return this.#message(frame);
            case 'subscribed': return this.#subscribed(frame);
            case 'reset': return this.#reset(frame, 'reset');
            default: return undefined;  // e.g. `unsubscribed`, or types added later
        }
    }

    #subscribed(frame) {
        const subscription = this.#rooms.get(frame.room);
        if (!subscription) return;
        subscription.subscribed = true;
        subscription.refusals = 0;
        subscription.head = Number.isInteger(frame.seq) ? frame.seq : null;
        if (subscription.epoch !== null && subscription.epoch !== frame.epoch) {
            // The room started afresh (e.g. the sidecar restarted). A sidecar that knows it sends
            // a `reset` as well; whichever comes first is reported, once.
            this.#reset({ room: frame.room, epoch: frame.epoch }, 'epoch');
        } else if (subscription.epoch === null) {
            subscription.epoch = frame.epoch;
            if (subscription.seq === null) subscription.seq = frame.seq;  // live from the head on
        }
        this.emit('subscribed', { room: frame.room, seq: frame.seq, epoch: frame.epoch });
    }

    // After a reset the next message's seq is taken as the new position, whatever it is.
    #reset(frame, reason) {
        const subscription = this.#rooms.get(frame.room);
        if (!subscription) return;
        if (subscription.resetOnThisConnection === frame.epoch && reason !== 'gap') return;
        const detail = {
            room: frame.room, epoch: frame.epoch, reason,
            previous: { seq: subscription.seq, epoch: subscription.epoch },
        };
        subscription.resetOnThisConnection = frame.epoch;
        subscription.epoch = frame.epoch;
        subscription.seq = null;
        subscription.emit('reset', detail);
        this.emit('reset', detail);
    }

    #message(frame) {
        const subscription = this.#rooms.get(frame.room);
        if (!subscription || !Number.isInteger(frame.seq)) return;
        if (subscription.epoch !== null && frame.epoch !== subscription.epoch) {
            this.#reset({ room: frame.room, epoch: frame.epoch }, 'epoch');
        }
        if (subscription.seq !== null) {
            if (frame.seq <= subscription.seq) return;  // a duplicate: already delivered
            if (frame.seq > subscription.seq + 1) {
                // Missed messages that nobody announced: never a silent gap.
                this.#reset({ room: frame.room, epoch: frame.epoch }, 'gap');
            }
        }
        subscription.epoch = frame.epoch;
        subscription.seq = frame.seq;
        subscription.emit('message', frame);
        this.emit('message', frame);
    }
}

/**
 * Server-sent events behind the WebSocket interface the client uses (onopen, onmessage, onclose,
 * send, close): a `subscribe` opens an EventSource on /sse/rooms/ROOM with the position and
 * token it names, and every event's data is a frame as /ws sends it, so resume, duplicates,
 * resets and token refresh work unchanged. The browser reconnects each stream by itself, with
 * Last-Event-ID. A stream the server refuses (an HTTP error: EventSource gives up) becomes an
 * `error` frame for its room. SSE only receives: `publish` and `presence` are refused here.
 */
class SseSocket {
    #base;
    #EventSource;
    #streams = new Map();  // room -> EventSource

    constructor(base, EventSourceImpl) {
        this.#base = base;
        this.#EventSource = EventSourceImpl;
        this.onopen = this.onmessage = this.onclose = this.onerror = null;
        setTimeout(() => this.onopen?.(), 0);
    }

    send(text) {
        const command = JSON.parse(text);
        if (command.op === 'ping') return;  // the server's heartbeat events do it here
        if (command.op === 'subscribe') this.#open(command);
        else if (command.op === 'unsubscribe') this.#end(command.room, { type: 'unsubscribed', room: command.room });
        else this.#frame({ type: 'error', code: 'not_supported', room: command.room, id: command.id,
            message: `roompush: ${command.op} needs a WebSocket; this client uses server-sent events` });
    }

    close() {
        for (const room of [...this.#streams.keys()]) this.#end(room);
        this.onclose?.({ code: 1000, reason: '' });
    }

    #open({ room, since, epoch, token }) {
        this.#end(room);
        const url = new URL(`${this.#base}/rooms/${room}`);
        if (since !== undefined) url.searchParams.set('since', String(since));
        if (epoch !== undefined) url.searchParams.set('epoch', epoch);
        if (token !== undefined) url.searchParams.set('token', token);
        const stream = new this.#EventSource(url.href);
        stream.onmessage = (event) => this.#frame(event.data);
        stream.onerror = () => {
            if (stream.readyState !== 2) return;  // CONNECTING: the browser tries again itself
            this.#streams.delete(room);
            this.#frame({ type: 'error', code: 'stream_refused', room,
                message: `roompush: the event stream of ${room} was refused` });
        };
        this.#streams.set(room, stream);
    }

    #end(room, frame) {
        const stream = this.#streams.get(room);
        if (stream) {
            stream.onmessage = stream.onerror = null;
            stream.close();
            this.#streams.delete(room);
        }
        if (frame) this.#frame(frame);
    }

    #frame(frame) {
        this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
    }
}

// /ws on the same host -> /sse, ws(s) -> http(s).
function sseUrlFor(wsUrl) {
    const url = new URL(wsUrl);
    url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
    url.pathname = url.pathname.replace(/\/ws\/?$/, '') + '/sse';
    url.search = '';
    return url.href;
}

function resolveSseUrl(url) {
    const base = globalThis.location?.href;
    return (base ? new URL(url, base) : new URL(url)).href.replace(/\/$/, '');
}

function detach(socket) {
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
}

// Accepts ws(s)://, http(s):// and, in a page, a path such as "/ws".
function resolveUrl(url) {
    const base = globalThis.location?.href;
    const parsed = base ? new URL(url, base) : new URL(url);
    if (parsed.protocol === 'http:') parsed.protocol = 'ws:';
    if (parsed.protocol === 'https:') parsed.protocol = 'wss:';
    return parsed.href;
}

/** Opens a client on roompush's multi-room WebSocket endpoint (default "/ws"). */
export function connect(url = '/ws', options = {}) {
    return new RoomPushClient(url, options).open();
}

/** What upload() rejects with: `status` 0 for a network failure or abort. */
export class UploadError extends Error {
    constructor(status, code, message, retryAfter = null) {
        super(message);
        this.name = 'UploadError';
        this.status = status;
        this.code = code;
        this.retryAfter = retryAfter;
    }
}

/**
 * POSTs a file to roompush (`/cad` by default) as multipart/form-data and resolves with the job
 * the server accepted (202, or 201 with `wait`). Uses XMLHttpRequest because fetch() cannot
 * report upload progress. `onProgress({loaded, total, fraction})` follows the request body.
 */
export function upload({ url = '/cad', file, filename, roomId, itemId, fields = {}, wait, onProgress, signal } = {}) {
    return new Promise((resolve, reject) => {
        const form = new FormData();
        form.append('roomId', roomId);
        if (itemId !== undefined && itemId !== null) form.append('itemId', String(itemId));
        for (const [name, value] of Object.entries(fields)) form.append(name, value);
        form.append('file', file, filename ?? file?.name ?? 'upload');
        const xhr = new XMLHttpRequest();
        xhr.open('POST', wait ? `${url}?wait=${encodeURIComponent(wait)}` : url);
        xhr.responseType = 'text';
        xhr.upload.onprogress = (event) => {
            if (!onProgress) return;
            const total = event.lengthComputable ? event.total : (file?.size ?? 0);
            onProgress({ loaded: event.loaded, total, fraction: total ? event.loaded / total : 0 });
        };
        xhr.onload = () => {
            let body = null;
            try {
                body = JSON.parse(xhr.responseText);
            } catch {
                body = null;
            }
            if (xhr.status === 201 || xhr.status === 202) {
                onProgress?.({ loaded: file?.size ?? 0, total: file?.size ?? 0, fraction: 1 });
                resolve(body);
                return;
            }
            const error = body?.error ?? {};
            reject(new UploadError(xhr.status, error.code ?? `http_${xhr.status}`,
                error.message ?? `the server answered ${xhr.status} ${xhr.statusText}`,
                xhr.getResponseHeader('Retry-After')));
        };
        xhr.onerror = () => reject(new UploadError(0, 'network', 'the upload could not reach the server'));
        xhr.onabort = () => reject(new UploadError(0, 'aborted', 'the upload was cancelled'));
        if (signal) {
            if (signal.aborted) {
                reject(new UploadError(0, 'aborted', 'the upload was cancelled'));
                return;
            }
            signal.addEventListener('abort', () => xhr.abort(), { once: true });
        }
        xhr.send(form);
    });
}

/** GET /jobs/ID: the fallback for a job whose pushes were missed. */
export async function fetchJob(jobId, { base = '' } = {}) {
    const response = await fetch(`${base}/jobs/${encodeURIComponent(jobId)}`);
    const body = await response.json().catch(() => null);
    if (!response.ok) {
        const error = body?.error ?? {};
        throw new UploadError(response.status, error.code ?? `http_${response.status}`,
            error.message ?? `GET /jobs/${jobId} answered ${response.status}`);
    }
    return body;
}
