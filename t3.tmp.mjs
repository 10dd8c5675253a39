import { native } from './dist/native.js';
const fd = native.createSegment(native.Ring.bytesNeeded(4096, 512, 4, 0)).fd;
const efd = native.createEventFd();
const ring = new native.Ring(fd, 0, { slots: 4096, slotSize: 512, init: true, maxParticipants: 4, holdBytes: 0, track: false });
const bell = new native.Doorbell(ring, efd);
bell.watch(() => {});
const mode = process.argv[2];
if (mode === 'a') { bell.unwatch(); bell.close(); ring.close(); }
if (mode === 'b') { bell.close(); }
process.stderr.write('done ' + mode + '\n');
