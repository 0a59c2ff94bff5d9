"""A fake /dev/video11 (bcm2835-codec H.264 M2M encoder) for picamera2's V4L2Encoder/H264Encoder.

picamera2/encoders/v4l2_encoder.py reaches the kernel only through four module globals:
  open('/dev/video11', 'rb+', buffering=0)   (L54)   -> FakeCodec.open: a new FakeM2M session
  fcntl.ioctl(self.vd, VIDIOC_*, ctypes_struct)      -> that session's FakeM2M.ioctl (mutates the struct in place)
  mmap.mmap(fileno, length, prot, flags, offset=)    -> anonymous mmap per CAPTURE buffer of that session
  select.poll()                                      -> FakePoll (reports POLLOUT/POLLIN when its session has work)
install(codec) patches exactly those names *inside picamera2.encoders.v4l2_encoder* (nothing process-wide).
As the driver (a V4L2 mem2mem device), every open is a session of its own (its own controls, formats, rate and
buffers: bcm2835-v4l2-codec.c creates a context and a VideoCore encoder component per open); ``sessions`` caps
how many may be open at once (EBUSY beyond: a VideoCore with no encoder left), None for no cap; the sessions
opened from the ``refuse_buffers_from``-th on fail to allocate their buffers (ENOMEM at VIDIOC_REQBUFS: no CMA
left), after picamera2 has started their polling thread.
The ioctl log, the last value of each control and the frame rate each session's encoder runs at are what the
tests assert on. The frame rate is the driver's (bcm2835-v4l2-codec.c): 30/1 from open until VIDIOC_S_PARM on the
OUTPUT queue sets another (EINVAL for another queue or a zero fraction); the encoder component is created at the
first VIDIOC_REQBUFS with the rate set by then, so a rate set later never reaches it.
The "encoding" is fake: CAPTURE buffers get dummy Annex-B NALs (SPS/PPS/IDR on key frames, non-IDR slice
otherwise); the OUTPUT buffer timestamp is copied to the CAPTURE buffer as the real M2M driver does.
"""

import collections
import ctypes
import errno
import mmap as _mmap
import select as _select
import threading
from fractions import Fraction
from types import SimpleNamespace
from unittest import mock

import videodev2 as v

FAKE_FD = 1011

_IOCTL_NAMES = {getattr(v, n): n for n in dir(v) if n.startswith("VIDIOC_") and isinstance(getattr(v, n), int)}
_CID_NAMES = {}
for _n in sorted(dir(v)):
    if _n.startswith("V4L2_CID_") and isinstance(getattr(v, _n), int) and not _n.endswith(("_BASE", "_CLASS")):
        _CID_NAMES.setdefault(getattr(v, _n), _n)
_BUF_TYPES = {
    v.V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE: "OUTPUT_MPLANE",
    v.V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE: "CAPTURE_MPLANE",
}
_MEM = {v.V4L2_MEMORY_MMAP: "MMAP", v.V4L2_MEMORY_DMABUF: "DMABUF"}


def fourcc(x):
    return bytes((x >> (8 * i)) & 0xFF for i in range(4)).decode("latin1")


def cid_name(i):
    return _CID_NAMES.get(i, hex(i))


class FakeM2M:
    """One open of the device: one encode session."""

    CAPTURE_SIZE = 512 << 10

    def __init__(self, fd=FAKE_FD):
        self.fd = fd
        self.log = []  # [(ioctl_name, details_dict)]
        self.controls = {}  # cid name -> last value
        self.closed = False
        self.cv = threading.Condition()
        self.out_done = collections.deque()  # OUTPUT indices consumed, awaiting DQBUF
        self.cap_free = collections.deque()  # CAPTURE indices queued by the app
        self.cap_ready = collections.deque()  # (index, bytesused, tv_sec, tv_usec, flags)
        self.pending = collections.deque()  # OUTPUT frames waiting for a free CAPTURE buffer
        self.cap_mem = {}
        self.frames = 0
        self.force_pending = False
        self.qbuf_output = []  # (index, dmabuf fd, bytesused, tv_sec, tv_usec)
        self.refuse_buffers = False  # VIDIOC_REQBUFS of any buffers fails with ENOMEM
        self.framerate = Fraction(30)  # the driver's ctx->framerate_num / framerate_denom until S_PARM
        self.encoder_framerate = None  # the rate the encoder component was created with (first REQBUFS)

    # --- file-object surface used by picamera2 ---
    def fileno(self):
        return self.fd

    @property
    def size(self):
        """(width, height) of the pictures it was given to encode (its OUTPUT format), None before."""
        formats = [d for name, d in self.log if name == "VIDIOC_S_FMT" and d["type"] == "OUTPUT_MPLANE"]
        return (formats[0]["width"], formats[0]["height"]) if formats else None

    def close(self):
        self.closed = True

    # --- ioctl ---
    def ioctl(self, fd, req, arg=0, mutate=True):
        assert fd is self, "picamera2 passes the file object"
        name = _IOCTL_NAMES.get(req, hex(req))
        d = {}
        if req == v.VIDIOC_QUERYCAP:
            card = b"bcm2835-codec-encode"
            ctypes.memmove(ctypes.addressof(arg) + type(arg).card.offset, card, len(card))
        elif req == v.VIDIOC_S_CTRL:
            d = {cid_name(arg.id): arg.value}
            self.controls[cid_name(arg.id)] = arg.value
            if arg.id == v.V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME:
                with self.cv:
                    self.force_pending = True
        elif req == v.VIDIOC_S_EXT_CTRLS:
            for i in range(arg.count):
                c = arg.controls[i]
                d[cid_name(c.id)] = c.value
                self.controls[cid_name(c.id)] = c.value
        elif req == v.VIDIOC_S_FMT:
            p = arg.fmt.pix_mp
            d = dict(
                type=_BUF_TYPES.get(arg.type),
                width=p.width,
                height=p.height,
                pixelformat=fourcc(p.pixelformat),
                bytesperline=p.plane_fmt[0].bytesperline,
                sizeimage=p.plane_fmt[0].sizeimage,
                colorspace=p.colorspace,
                num_planes=p.num_planes,
            )
            if arg.type == v.V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE:
                p.plane_fmt[0].sizeimage = self.CAPTURE_SIZE
        elif req == v.VIDIOC_S_PARM:
            t = arg.parm.output.timeperframe
            d = dict(type=_BUF_TYPES.get(arg.type), timeperframe=f"{t.numerator}/{t.denominator}")
            if arg.type != v.V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE or not t.numerator or not t.denominator:
                raise OSError(errno.EINVAL, "Invalid argument")
            self.framerate = Fraction(t.denominator, t.numerator)
            arg.parm.output.capability = v.V4L2_CAP_TIMEPERFRAME
        elif req == v.VIDIOC_REQBUFS:
            d = dict(type=_BUF_TYPES.get(arg.type), count=arg.count, memory=_MEM.get(arg.memory))
            if self.refuse_buffers and arg.count:
                raise OSError(errno.ENOMEM, "Cannot allocate memory")
            if self.encoder_framerate is None:
                self.encoder_framerate = self.framerate
        elif req == v.VIDIOC_QUERYBUF:
            arg.m.planes[0].length = self.CAPTURE_SIZE
            arg.m.planes[0].m.mem_offset = arg.index * self.CAPTURE_SIZE
            d = dict(index=arg.index)
        elif req in (v.VIDIOC_STREAMON, v.VIDIOC_STREAMOFF):
            d = dict(type=_BUF_TYPES.get(arg.value))
        elif req == v.VIDIOC_QBUF:
            return self._qbuf(arg)
        elif req == v.VIDIOC_DQBUF:
            return self._dqbuf(arg)
        self.log.append((name, d))
        return 0

    def _qbuf(self, b):
        with self.cv:
            if b.type == v.V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE:
                self.cap_free.append(b.index)
            else:
                self.qbuf_output.append(
                    (b.index, b.m.planes[0].m.fd, b.m.planes[0].bytesused, b.timestamp.tv_sec, b.timestamp.tv_usec)
                )
                self.pending.append((b.index, b.timestamp.tv_sec, b.timestamp.tv_usec, self.force_pending))
                self.force_pending = False
            self._pump()
            self.cv.notify_all()
        return 0

    def _pump(self):
        iperiod = self.controls.get("V4L2_CID_MPEG_VIDEO_H264_I_PERIOD", 60)
        repeat = self.controls.get("V4L2_CID_MPEG_VIDEO_REPEAT_SEQ_HEADER", 0)
        while self.pending and self.cap_free:
            idx, sec, usec, forced = self.pending.popleft()
            cap = self.cap_free.popleft()
            key = self.frames == 0 or forced or (iperiod and self.frames % iperiod == 0)
            payload = b""
            if key and (self.frames == 0 or repeat):
                payload += b"\x00\x00\x00\x01\x67" + bytes(20) + b"\x00\x00\x00\x01\x68" + bytes(4)
            payload += (b"\x00\x00\x00\x01\x65" if key else b"\x00\x00\x00\x01\x41") + bytes(200 if key else 80)
            m = self.cap_mem[cap]
            m.seek(0)
            m.write(payload)
            m.seek(0)
            self.frames += 1
            self.out_done.append(idx)
            self.cap_ready.append((cap, len(payload), sec, usec, v.V4L2_BUF_FLAG_KEYFRAME if key else 0))

    def _dqbuf(self, b):
        with self.cv:
            if b.type == v.V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE:
                if not self.out_done:
                    raise BlockingIOError(11, "EAGAIN")
                b.index = self.out_done.popleft()
            else:
                if not self.cap_ready:
                    raise BlockingIOError(11, "EAGAIN")
                cap, n, sec, usec, flags = self.cap_ready.popleft()
                b.index = cap
                b.flags = flags
                b.timestamp.tv_sec, b.timestamp.tv_usec = sec, usec
                b.m.planes[0].bytesused = n
                b.m.planes[0].length = self.CAPTURE_SIZE
        return 0

    # --- mmap ---
    def mmap(self, fileno, length, prot=None, flags=None, offset=0):
        m = _mmap.mmap(-1, length)
        self.cap_mem[offset // self.CAPTURE_SIZE] = m
        return m


class FakePoll:
    """select.poll() over the sessions registered with it."""

    def __init__(self):
        self.session = None

    def register(self, fd, mask):
        self.session = fd  # picamera2 registers its file object: the session

    def poll(self, timeout_ms):
        dev = self.session
        with dev.cv:
            dev.cv.wait_for(lambda: dev.out_done or dev.cap_ready, timeout=timeout_ms / 1000)
            ev = (_select.POLLOUT if dev.out_done else 0) | (_select.POLLIN if dev.cap_ready else 0)
        return [(dev.fileno(), ev)] if ev else []


class FakeCodec:
    """/dev/video11: each open a new :class:`FakeM2M` session, in ``sessions`` (in the order opened)."""

    def __init__(self, max_sessions=None, refuse_buffers_from=None):
        self.max_sessions = max_sessions
        self.refuse_buffers_from = refuse_buffers_from
        self.sessions = []

    def open(self, path, *a, **k):
        assert path == "/dev/video11", path
        if self.max_sessions is not None and sum(not s.closed for s in self.sessions) >= self.max_sessions:
            raise OSError(errno.EBUSY, "Device or resource busy")
        session = FakeM2M(FAKE_FD + len(self.sessions))
        session.opened = (path, a, k)
        session.refuse_buffers = self.refuse_buffers_from is not None and len(self.sessions) >= self.refuse_buffers_from
        self.sessions.append(session)
        return session

    def session(self, width, height):
        """The session encoding pictures of that size."""
        found = [s for s in self.sessions if s.size == (width, height)]
        assert len(found) == 1, f"{len(found)} sessions encode {width}x{height}: {[s.size for s in self.sessions]}"
        return found[0]

    def mmap(self, fileno, length, prot=None, flags=None, offset=0):
        return self.sessions[fileno - FAKE_FD].mmap(fileno, length, prot, flags, offset)


def install(codec):
    """Context manager: patch the kernel-facing globals of picamera2.encoders.v4l2_encoder only."""
    import picamera2.encoders.v4l2_encoder as m

    def ioctl(fd, req, arg=0, mutate=True):
        return fd.ioctl(fd, req, arg, mutate)

    stack = [
        mock.patch.object(m, "open", codec.open, create=True),
        mock.patch.object(m, "fcntl", SimpleNamespace(ioctl=ioctl)),
        mock.patch.object(
            m,
            "mmap",
            SimpleNamespace(
                mmap=codec.mmap, PROT_READ=_mmap.PROT_READ, PROT_WRITE=_mmap.PROT_WRITE, MAP_SHARED=_mmap.MAP_SHARED
            ),
        ),
        mock.patch.object(m, "select", SimpleNamespace(poll=FakePoll, POLLIN=_select.POLLIN, POLLOUT=_select.POLLOUT)),
    ]

    class _Ctx:
        def __enter__(self):
            for p in stack:
                p.start()
            return codec

        def __exit__(self, *exc):
            for p in reversed(stack):
                p.stop()

    return _Ctx()
