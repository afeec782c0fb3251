// The demo page: one room, uploads with progress, the job's progress and result as the room
// pushes them, and a live log. Everything it knows about jobs comes from the room's pushes (so a
// second tab shows the same), plus GET /jobs/ID after a reset, when pushes may have been missed.
import { connect, upload, fetchJob, UploadError } from './roompush.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const MAX_LOG = 500;

// ?maxBackoff=MS caps the reconnect wait (the tests use it to stay quick).
const maxBackoff = Number(params.get('maxBackoff')) || undefined;
// ?transport=sse|websocket picks one; the default, auto, falls back to server-sent events when
// WebSockets cannot open.
const client = connect('/ws', {
    backoff: maxBackoff ? { max: maxBackoff } : {},
    transport: params.get('transport') ?? 'auto',
});

const jobs = new Map();   // jobId -> {status, progress, stage, result, error, itemId}
let currentJob = null;    // the job the Job and Result cards show
let room = null;
let sample = null;        // {file, label} of the chosen sample, when no file is picked
let retryTimer = null;

// -- connection state --------------------------------------------------------------------------

const STATE_TEXT = {
    idle: 'starting…',
    connecting: 'connecting…',
    open: 'live',
    closed: 'closed',
};

client.on('state', (change) => {
    const pill = $('connection');
    pill.dataset.state = change.state;
    clearInterval(retryTimer);
    if (change.state === 'reconnecting') {
        const at = Date.now() + change.delay;
        const show = () => {
            const left = Math.max(0, (at - Date.now()) / 1000).toFixed(1);
            $('connection-text').textContent = `reconnecting in ${left} s (attempt ${change.attempt}, closed ${change.code})`;
        };
        show();
        retryTimer = setInterval(show, 100);
        logLocal('connection', `lost (close ${change.code}${change.reason ? ': ' + change.reason : ''}); retry in ${change.delay} ms`);
    } else if (change.state === 'stopped') {
        const why = change.error ? `${change.error.code}: ${change.error.message}` : `close ${change.code}`;
        $('connection-text').textContent = `stopped — ${why}`;
        logLocal('connection', `refused, not retrying (${why})`, true);
    } else {
        $('connection-text').textContent = STATE_TEXT[change.state] +
            (change.state === 'open' ? ` · room ${room} · ${client.transport}` : '');
        pill.dataset.transport = client.transport;
        if (change.state === 'open') logLocal('connection', `connected (${client.transport})`);
    }
});

// -- the room ----------------------------------------------------------------------------------

function join(name) {
    if (name === room) return;
    if (room) client.unsubscribe(room);
    room = name;
    $('log-room').textContent = `· ${room}`;
    const url = new URL(location.href);
    url.searchParams.set('room', room);
    history.replaceState(null, '', url);
    const subscription = client.subscribe(room);
    subscription.on('message', onMessage);
    subscription.on('reset', onReset);
    if (client.state === 'open') $('connection-text').textContent = `live · room ${room}`;
}

client.on('subscribed', (s) => {
    if (s.room !== room) return;
    logLocal('subscribed', `room ${s.room}, seq ${s.seq}, epoch ${s.epoch}`);
    refreshPeople();
});

// -- who is in the room (presence) -------------------------------------------------------------

let people = new Map();   // conn -> member

function renderPeople(count = people.size) {
    const names = [...people.values()].map((m) => m.user ?? m.conn);
    $('people').textContent = count > names.length
        ? `${count} here`
        : `${count} here: ${names.join(', ')}`;
    $('people').dataset.count = String(count);
}

async function refreshPeople() {
    try {
        const answer = await client.presence(room);
        people = new Map(answer.members.map((m) => [m.conn, m]));
        renderPeople(answer.count);
    } catch (error) {
        $('people').textContent = error.code === 'presence_forbidden' ? 'presence is off for this room' : '';
    }
}

client.on('join', (e) => { if (e.room === room) { people.set(e.member.conn, e.member); renderPeople(); } });
client.on('leave', (e) => { if (e.room === room) { people.delete(e.member.conn); renderPeople(); } });
client.on('presence_count', (e) => { if (e.room === room) renderPeople(e.count); });

function onMessage(message) {
    logMessage(message);
    const data = message.data ?? {};
    if (!data.jobId || !message.event.startsWith('job.')) return;
    const job = jobs.get(data.jobId) ?? { status: 'queued', progress: 0, stage: '' };
    jobs.set(data.jobId, job);
    job.itemId = data.itemId;
    switch (message.event) {
        case 'job.queued': job.status = 'queued'; break;
        case 'job.started': job.status = 'running'; break;
        case 'job.progress':
            job.status = 'running';
            job.progress = Math.max(job.progress, Number(data.progress) || 0);
            job.stage = data.stage ?? '';
            break;
        case 'job.done':
            Object.assign(job, { status: 'done', progress: 100, stage: 'done', result: data.result });
            break;
        case 'job.failed':
            Object.assign(job, { status: 'failed', stage: 'failed', error: data.error, result: data.result });
            break;
        case 'job.cancelled':
            Object.assign(job, { status: 'cancelled', stage: 'cancelled' });
            break;
        case 'job.retrying':
            Object.assign(job, { status: 'queued', progress: 0, stage: `retrying (attempt ${(Number(data.attempt) || 1) + 1})` });
            break;
        default: break;
    }
    if (message.event === 'job.queued' || currentJob === null) currentJob = data.jobId;
    if (data.jobId === currentJob) renderJob();
}

// After a reset, pushes may have been missed: ask the server how the unfinished jobs ended.
async function onReset(reset) {
    logLocal('reset', `room ${reset.room}: ${reset.reason === 'gap' ? 'messages were missed' : 'history restarted (epoch ' + reset.epoch + ')'}`, true);
    for (const [jobId, job] of jobs) {
        if (job.status === 'done' || job.status === 'failed' || job.status === 'cancelled') continue;
        try {
            const stored = await fetchJob(jobId);
            Object.assign(job, { status: stored.status, progress: stored.status === 'done' ? 100 : (stored.progress ?? job.progress),
                result: stored.result, error: stored.error });
            logLocal('GET /jobs', `${jobId.slice(0, 8)}… is ${stored.status}`);
            if (jobId === currentJob) renderJob();
        } catch (error) {
            logLocal('GET /jobs', `${jobId.slice(0, 8)}…: ${error.message}`, true);
        }
    }
}

// -- rendering ---------------------------------------------------------------------------------

const number = (v, digits = 2) => (typeof v === 'number' ? Number(v.toFixed(digits)).toLocaleString('en') : '—');
const triple = (a) => (Array.isArray(a) ? a.map((v) => number(v)).join(' × ') : '—');
const point = (a) => (Array.isArray(a) ? `(${a.map((v) => number(v)).join(', ')})` : '—');

function renderJob() {
    const job = jobs.get(currentJob);
    if (!job) return;
    $('job-id').textContent = currentJob;
    const status = $('job-status');
    status.textContent = job.status;
    status.dataset.status = job.status;
    $('job-stage').textContent = job.stage || '—';
    const bar = $('job-progress');
    bar.value = job.progress;
    bar.className = job.status === 'done' || job.status === 'failed' ? job.status : '';
    $('job-text').textContent = `${job.progress}%`;
    const jobError = $('job-error');
    jobError.hidden = job.status !== 'failed';
    if (job.status === 'failed') {
        const error = job.error ?? {};
        jobError.replaceChildren(bold(`The job failed (${error.reason ?? 'error'})`),
            document.createTextNode(error.message ?? 'no message'));
    }
    renderResult(job);
}

function renderResult(job) {
    const facts = $('result-facts');
    const preview = $('preview');
    const result = job.status === 'done' ? job.result : null;
    if (!result) {
        facts.replaceChildren(...fact('—', job.status === 'failed' ? 'no result: the job failed'
            : job.status === 'cancelled' ? 'no result: the job was cancelled' : 'no result yet'));
        preview.hidden = true;
        preview.removeAttribute('src');
        $('preview-caption').textContent = 'the preview appears here';
        return;
    }
    const rows = [['Format', result.format]];
    if (result.name) rows.push(['Name', result.name]);
    if ('triangles' in result) rows.push(['Triangles', number(result.triangles, 0), 'result-triangles']);
    if ('entities' in result) {
        rows.push(['Entities', number(result.entities, 0), 'result-entities']);
        for (const [type, count] of Object.entries(result.counts ?? {})) rows.push([`  ${type}`, number(count, 0)]);
    }
    rows.push(['Size', triple(result.size)], ['Min', point(result.bbox?.min)], ['Max', point(result.bbox?.max)]);
    if ('area' in result) rows.push(['Area', number(result.area)]);
    if ('volume' in result) rows.push(['Volume', number(result.volume)]);
    if ('length' in result) rows.push(['Drawn length', number(result.length)]);
    facts.replaceChildren(...rows.flatMap(([name, value, id]) => fact(name, value, id)));
    if (result.preview) {
        preview.hidden = false;
        preview.src = `/jobs/${encodeURIComponent(currentJob)}/preview.svg`;
        $('preview-caption').textContent = result.previewSampled ? 'preview (a sample of the geometry)' : 'preview';
    } else {
        preview.hidden = true;
        $('preview-caption').textContent = 'the program wrote no preview';
    }
}

function fact(name, value, id) {
    const dt = document.createElement('dt');
    dt.textContent = name;
    const dd = document.createElement('dd');
    dd.textContent = value ?? '—';
    if (id) dd.id = id;
    return [dt, dd];
}

function bold(text) {
    const b = document.createElement('b');
    b.textContent = text;
    return b;
}

// -- the log -----------------------------------------------------------------------------------

function time(ms) {
    const d = new Date(ms);
    return d.toTimeString().slice(0, 8) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}

function summary(message) {
    const data = message.data ?? {};
    const job = data.jobId ? `job ${data.jobId.slice(0, 8)}… ` : '';
    switch (message.event) {
        case 'job.progress': return `${job}${data.progress}% ${data.stage ?? ''}`;
        case 'job.done': {
            const r = data.result ?? {};
            const what = 'triangles' in r ? `${r.triangles} triangles` : 'entities' in r ? `${r.entities} entities` : 'done';
            return `${job}${r.format ?? ''} · ${what}`;
        }
        case 'job.failed': return `${job}${data.error?.reason ?? ''}: ${data.error?.message ?? ''}`;
        case 'job.cancelled': return `${job}cancelled`;
        case 'job.retrying': return `${job}retrying in ${Math.round((Number(data.retryInMs) || 0) / 100) / 10} s: ${data.error?.message ?? ''}`;
        case 'chat': return `${message.from?.user ?? message.from?.conn ?? 'server'}: ${data.text ?? ''}`;
        default: return job || JSON.stringify(data);
    }
}

function addLogLine(cells, attributes, className) {
    const log = $('log');
    const li = document.createElement('li');
    if (className) li.className = className;
    Object.assign(li.dataset, attributes);
    for (const [cls, text] of cells) {
        const span = document.createElement('span');
        span.className = cls;
        span.textContent = text;
        li.append(span);
    }
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.append(li);
    while (log.children.length > MAX_LOG) log.firstElementChild.remove();
    if (atBottom) log.scrollTop = log.scrollHeight;
}

function logMessage(message) {
    addLogLine([['time', time(message.ts ?? Date.now())], ['seq', `#${message.seq}`], ['event', message.event],
        ['detail', summary(message)]],
    { event: message.event, seq: String(message.seq), epoch: message.epoch, job: message.data?.jobId ?? '' }, 'message');
}

function logLocal(what, text, alarming = false) {
    addLogLine([['time', time(Date.now())], ['seq', ''], ['event', what], ['detail', text]],
        { local: what }, alarming ? 'local reset' : 'local');
}

// -- notes: messages from this page to everyone in the room --------------------------------------

const CHAT_REFUSALS = {
    publish_forbidden: 'This room does not take messages from browsers (the sidecar needs --client-publish, or a token with "publish").',
    rate_limited: 'Too many notes at once; wait a moment.',
    message_too_big: 'That note is too long.',
    not_connected: 'Not connected; the note was not sent.',
};

async function sendNote(event) {
    event.preventDefault();
    const input = $('chat-text');
    const text = input.value.trim();
    if (!text || !room) return;
    $('chat-error').textContent = '';
    try {
        await client.publish(room, 'chat', { text });
        input.value = '';
    } catch (error) {
        $('chat-error').textContent = CHAT_REFUSALS[error.code] ?? `Not sent: ${error.message}`;
    }
}

$('chat-form').addEventListener('submit', sendNote);

// -- upload ------------------------------------------------------------------------------------

const REFUSALS = {
    413: 'The file is too large for this server.',
    415: 'The upload was not sent as a form (multipart/form-data).',
    400: 'The upload was refused.',
    503: 'The server is busy.',
};

function showUploadError(error) {
    const box = $('upload-error');
    box.hidden = false;
    const head = error.status
        ? `${REFUSALS[error.status] ?? 'The upload failed.'} (${error.status} ${error.code})`
        : `The upload did not complete (${error.code}).`;
    const retry = error.retryAfter ? ` Try again in ${error.retryAfter} s.` : '';
    box.replaceChildren(bold(head), document.createTextNode(error.message + retry));
}

async function chosenFile() {
    const picked = $('file').files[0];
    if (picked) return picked;
    if (!sample) return null;
    const response = await fetch(`samples/${sample.file}`);
    if (!response.ok) throw new UploadError(response.status, 'sample_missing', `samples/${sample.file} is not there`);
    return new File([await response.blob()], sample.file);
}

async function submit(event) {
    event.preventDefault();
    const roomInput = $('room');
    if (!roomInput.checkValidity()) {
        roomInput.reportValidity();
        return;
    }
    join(roomInput.value);
    $('upload-error').hidden = true;
    const bar = $('upload-progress');
    const button = $('upload-button');
    let file;
    try {
        file = await chosenFile();
    } catch (error) {
        showUploadError(error);
        return;
    }
    if (!file) {
        showUploadError(new UploadError(0, 'no_file', 'Choose a file or one of the samples first.'));
        return;
    }
    bar.value = 0;
    $('upload-text').textContent = `0% of ${file.size.toLocaleString('en')} bytes`;
    button.disabled = true;
    try {
        const job = await upload({
            file, filename: file.name, roomId: room, itemId: $('item').value,
            onProgress: ({ loaded, total, fraction }) => {
                bar.value = Math.round(fraction * 100);
                $('upload-text').textContent = `${Math.round(fraction * 100)}% of ${(total || loaded).toLocaleString('en')} bytes`;
            },
        });
        bar.value = 100;
        $('upload-text').textContent = `100% · accepted as job ${job.jobId.slice(0, 8)}…`;
        if (!jobs.has(job.jobId)) jobs.set(job.jobId, { status: 'queued', progress: 0, stage: '' });
        currentJob = job.jobId;
        renderJob();
    } catch (error) {
        bar.value = 0;
        $('upload-text').textContent = 'refused';
        showUploadError(error instanceof UploadError ? error : new UploadError(0, 'error', String(error)));
    } finally {
        button.disabled = false;
    }
}

async function loadSamples() {
    const holder = $('samples');
    try {
        const list = await (await fetch('samples/index.json')).json();
        holder.replaceChildren(...list.map((entry) => {
            const button = document.createElement('button');
            button.type = 'button';
            button.textContent = entry.file;
            button.title = entry.label;
            button.dataset.sample = entry.file;
            button.setAttribute('aria-pressed', 'false');
            button.addEventListener('click', () => {
                sample = entry;
                $('file').value = '';
                for (const other of holder.querySelectorAll('button')) other.setAttribute('aria-pressed', String(other === button));
                $('chosen').textContent = entry.label;
            });
            return button;
        }));
    } catch {
        holder.textContent = 'none available';
    }
}

$('file').addEventListener('change', () => {
    const picked = $('file').files[0];
    if (!picked) return;
    sample = null;
    for (const other of $('samples').querySelectorAll('button')) other.setAttribute('aria-pressed', 'false');
    $('chosen').textContent = `${picked.name} (${picked.size.toLocaleString('en')} bytes)`;
});
$('room').addEventListener('change', () => {
    if ($('room').checkValidity()) join($('room').value);
});
$('upload-form').addEventListener('submit', submit);

const initialRoom = params.get('room');
if (initialRoom) $('room').value = initialRoom;
join($('room').checkValidity() ? $('room').value : 'demo');
loadSamples();

// For the browser tests and for curious people with a console.
window.roompushDemo = { client, jobs };
