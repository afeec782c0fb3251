// Types of roompush.js (docs/browser.md). Checked against the module's exports by
// tests/browser/client.test.mjs.

export declare const DEFAULT_BACKOFF: Readonly<Backoff>;
export declare const DEFAULT_HEARTBEAT: Readonly<Heartbeat>;

export interface Heartbeat {
    /** ms without a frame before the client sends `ping` */
    interval: number;
    /** ms more before it gives the connection up and reconnects */
    timeout: number;
}

export interface Backoff {
    initial: number;
    max: number;
    factor: number;
    jitter: number;
    stableAfter: number;
}

export interface ClientOptions {
    WebSocket?: typeof WebSocket;
    EventSource?: typeof EventSource;
    /** 'auto' (default): WebSocket, or server-sent events when WebSockets cannot open. */
    transport?: 'auto' | 'websocket' | 'sse';
    /** The /sse endpoint; by default /sse beside the /ws URL. */
    sseUrl?: string;
    /** A room's token, asked for at (re)subscribe when the one held is missing or expiring, and
     *  again before it expires; a rejection is reported as `token_unavailable` for the room. */
    getToken?: (room: string) => Promise<string> | string;
    backoff?: Partial<Backoff>;
    heartbeat?: Partial<Heartbeat> | false;
    random?: () => number;
}

export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'stopped' | 'closed';

export interface Sender {
    conn: string;
    user?: string;
}

export interface Message<Data = unknown> {
    type: 'message';
    room: string;
    seq: number;
    epoch: string;
    event: string;
    data: Data;
    ts: number;
    from?: Sender; // a browser's message; absent on the server's
}

export interface ServerError {
    code: string;
    message: string;
    room?: string;
}

export interface StateChange {
    state: ClientState;
    previous: ClientState;
    code?: number;
    reason?: string;
    attempt?: number;
    delay?: number;
    error?: ServerError;
}

export interface Reset {
    room: string;
    epoch: string;
    reason: 'reset' | 'epoch' | 'gap';
    previous: { seq: number | null; epoch: string | null };
}

export interface PublishAck {
    room: string;
    seq: number;
    id: string;
    duplicate: boolean;
}

export interface Member {
    conn: string;
    user?: string;
    info?: Record<string, unknown>;
}

export interface PresenceAnswer {
    room: string;
    count: number;
    members: Member[];
}

export interface PresenceEvents {
    join: { room: string; member: Member };
    leave: { room: string; member: Member };
    presence_count: { room: string; count: number };
}

export interface ClientEvents extends PresenceEvents {
    transport: { transport: 'sse' };
    heartbeat: { transport: 'websocket' | 'sse'; at: number };
    state: StateChange;
    message: Message;
    subscribed: { room: string; seq: number; epoch: string };
    reset: Reset;
    error: ServerError;
}

declare class Emitter<Events> {
    on<K extends keyof Events>(type: K, handler: (detail: Events[K]) => void): () => void;
    off<K extends keyof Events>(type: K, handler: (detail: Events[K]) => void): void;
}

export interface SubscribeOptions {
    since?: number;
    epoch?: string;
    token?: string;
}

export declare class Subscription extends Emitter<PresenceEvents & { message: Message; reset: Reset; error: ServerError }> {
    readonly client: RoomPushClient;
    readonly room: string;
    readonly position: { seq: number | null; epoch: string | null };
    unsubscribe(): void;
    publish(event: string, data: unknown, options?: { id?: string }): Promise<PublishAck>;
    presence(): Promise<PresenceAnswer>;
}

export declare class PublishError extends Error {
    readonly code: string;
    readonly room: string;
    readonly id: string;
}

export declare class RoomPushClient extends Emitter<ClientEvents> {
    constructor(url?: string, options?: ClientOptions);
    readonly state: ClientState;
    readonly url: string;
    readonly transport: 'websocket' | 'sse';
    open(): this;
    subscribe(room: string, options?: SubscribeOptions): Subscription;
    unsubscribe(room: string): void;
    publish(room: string, event: string, data: unknown, options?: { id?: string }): Promise<PublishAck>;
    presence(room: string): Promise<PresenceAnswer>;
    room(room: string): Subscription | undefined;
    close(): void;
    nextDelay(attempt: number): number;
}

/** The `exp` of a room token in ms, or null when it cannot be read. */
export declare function tokenExpiry(token: string): number | null;

export declare function connect(url?: string, options?: ClientOptions): RoomPushClient;

export declare class UploadError extends Error {
    readonly status: number;
    readonly code: string;
    readonly retryAfter: string | null;
}

export interface UploadOptions {
    url?: string;
    file: Blob;
    filename?: string;
    roomId: string;
    itemId?: string | number;
    fields?: Record<string, string>;
    wait?: number;
    onProgress?: (progress: { loaded: number; total: number; fraction: number }) => void;
    signal?: AbortSignal;
}

export declare function upload(options: UploadOptions): Promise<Record<string, unknown>>;
export declare function fetchJob(jobId: string, options?: { base?: string }): Promise<Record<string, unknown>>;
