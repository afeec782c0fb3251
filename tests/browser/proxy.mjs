// A TCP proxy in front of nginx that a test can cut, freeze and block: the way to drop one
// client's connection (or silence it, or keep it from coming back) without touching the server.
import net from 'node:net';

export class CuttableProxy {
    #server;
    #sockets = new Set();
    blocked = false;
    accepted = 0;   // connections passed through
    refused = 0;    // connections closed at once while blocked

    static async start(targetPort) {
        const proxy = new CuttableProxy();
        await proxy.#listen(targetPort);
        return proxy;
    }

    #listen(targetPort) {
        this.#server = net.createServer((client) => {
            if (this.blocked) {
                this.refused += 1;
                client.destroy();
                return;
            }
            this.accepted += 1;
            const upstream = net.connect(targetPort, '127.0.0.1');
            for (const socket of [client, upstream]) {
                this.#sockets.add(socket);
                socket.on('close', () => this.#sockets.delete(socket));
                socket.on('error', () => {});
            }
            client.pipe(upstream);
            upstream.pipe(client);
            client.on('close', () => upstream.destroy());
            upstream.on('close', () => client.destroy());
        });
        return new Promise((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    }

    get port() {
        return this.#server.address().port;
    }

    /** Stops every connection's bytes without closing it: a link that died without a word. */
    freeze() {
        for (const socket of this.#sockets) socket.pause();
    }

    thaw() {
        for (const socket of this.#sockets) socket.resume();
    }

    /** Drops every connection now (the client sees 1006). */
    cut() {
        for (const socket of this.#sockets) socket.destroy();
    }

    async close() {
        this.cut();
        await new Promise((resolve) => this.#server.close(resolve));
    }
}
