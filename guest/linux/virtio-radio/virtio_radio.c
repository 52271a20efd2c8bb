// SPDX-License-Identifier: GPL-2.0
/*
 * V4L2 radio driver for the virtio-radio device (drivervm, experimental
 * device ID 56; the device is specified in docs/virtio-radio.md).
 *
 * The tuner ioctls become control requests; a tune, seek or step returns
 * once the device's TUNE_COMPLETE event for it arrives. Raw RDS blocks from
 * RDS_BLOCKS events are offered through read() and poll() in the V4L2 RDS
 * format, and the program information the device decodes itself (PS,
 * RadioText, PTY, TP, TA) is offered as the standard read-only RDS controls
 * of the FM_RX class. The audio is not ours: it is a virtio-snd capture
 * stream, named in sysfs (snd_stream_id, snd_hda_fn_nid).
 */

#include <linux/kfifo.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/refcount.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <media/v4l2-ctrls.h>
#include <media/v4l2-device.h>
#include <media/v4l2-event.h>
#include <media/v4l2-fh.h>
#include <media/v4l2-ioctl.h>

#include "virtio_radio.h"

/* A control request is answered at once; allow for a busy, emulated host. */
#define VRADIO_CTRL_TIMEOUT	(10 * HZ)
/* The device ends every operation within 30 s (TUNE_COMPLETE or TIMEOUT). */
#define VRADIO_OP_TIMEOUT	(35 * HZ)
#define VRADIO_CANCEL_TIMEOUT	(5 * HZ)
#define VRADIO_EVT_BUFS		16
#define VRADIO_MAX_PAYLOAD	64
#define VRADIO_MAX_BODY		sizeof(struct virtio_radio_region)
/* V4L2_TUNER_CAP_LOW: frequencies in units of 62.5 Hz, 16 per kHz. */
#define VRADIO_UNITS_PER_KHZ	16
#define VRADIO_RDS_FIFO		512

struct vradio_band {
	u8 kind;
	u32 low_khz;
	u32 high_khz;
	u32 spacing_khz;
	u32 seek_spacing_khz;
};

struct vradio_req {
	refcount_t ref;
	struct completion done;
	u32 used;
	struct virtio_radio_req_hdr hdr;
	u8 payload[VRADIO_MAX_PAYLOAD];
	struct virtio_radio_resp_hdr resp ____cacheline_aligned;
	u8 body[VRADIO_MAX_BODY];
};

struct vradio {
	struct virtio_device *vdev;
	struct virtqueue *ctrlq;
	struct virtqueue *evtq;
	/* Serialises the control queue and guards @removed. */
	spinlock_t ctrl_lock;
	bool removed;

	/* Serialises the event queue. */
	spinlock_t evt_lock;
	u8 *evt_bufs;
	struct work_struct evt_work;

	/* Guards everything events update, below. */
	spinlock_t state_lock;
	u32 done_op;
	u32 done_status;
	struct virtio_radio_program_info info;
	bool info_valid;
	bool mono;
	u32 events_lost;
	wait_queue_head_t op_wait;

	DECLARE_KFIFO(rds, struct v4l2_rds_data, VRADIO_RDS_FIFO);
	wait_queue_head_t rds_wait;

	u32 caps;
	u32 config_flags;
	bool rds_blocks;
	u32 snd_stream_id;
	u32 snd_hda_fn_nid;
	u8 deemphasis;
	unsigned int num_bands;
	struct vradio_band bands[VIRTIO_RADIO_MAX_BANDS];
	u32 freq_khz;
	char card[32];

	/* Serialises the V4L2 ioctls (video_device.lock). */
	struct mutex lock;
	struct v4l2_device v4l2_dev;
	struct video_device vdev_radio;
	struct v4l2_ctrl_handler hdl;
	/* V4L2_CID_RDS_RECEPTION: RDS blocks are queued for read(). */
	bool rds_on;
};

static void vradio_req_put(struct vradio_req *req)
{
	if (refcount_dec_and_test(&req->ref))
		kfree(req);
}

static int vradio_status_errno(u32 status)
{
	switch (status) {
	case VIRTIO_RADIO_S_OK:
		return 0;
	case VIRTIO_RADIO_S_INVALID_ARGUMENTS:
		return -EINVAL;
	case VIRTIO_RADIO_S_INVALID_STATE:
		return -ENODATA;
	case VIRTIO_RADIO_S_NOT_SUPPORTED:
		return -EOPNOTSUPP;
	case VIRTIO_RADIO_S_TIMEOUT:
		return -ETIMEDOUT;
	case VIRTIO_RADIO_S_CANCELLED:
		return -EINTR;
	case VIRTIO_RADIO_S_BUSY:
		return -EBUSY;
	case VIRTIO_RADIO_S_BAD_MSG:
		return -EPROTO;
	default:
		return -EIO;
	}
}

static void vradio_ctrl_done(struct virtqueue *vq)
{
	struct vradio *vr = vq->vdev->priv;
	struct vradio_req *req;
	unsigned long flags;
	unsigned int len;

	spin_lock_irqsave(&vr->ctrl_lock, flags);
	do {
		virtqueue_disable_cb(vq);
		while ((req = virtqueue_get_buf(vq, &len))) {
			req->used = len;
			complete(&req->done);
			vradio_req_put(req);
		}
	} while (!virtqueue_enable_cb(vq));
	spin_unlock_irqrestore(&vr->ctrl_lock, flags);
}

/*
 * Sends one request and waits for its answer. Room for @body_max bytes of
 * answer body is offered; a successful answer must carry at least @body_min.
 * Returns the body length received or a negative errno (device status
 * mapped).
 */
static int vradio_request_len(struct vradio *vr, u32 code, const void *payload,
			      size_t payload_len, void *body, size_t body_max,
			      size_t body_min)
{
	struct scatterlist out, in, *sgs[2] = { &out, &in };
	struct vradio_req *req;
	unsigned long flags;
	size_t got = 0;
	int ret;

	if (WARN_ON(payload_len > VRADIO_MAX_PAYLOAD || body_max > VRADIO_MAX_BODY))
		return -EINVAL;
	req = kzalloc(sizeof(*req), GFP_KERNEL);
	if (!req)
		return -ENOMEM;
	/* One reference for us, one for the device until it returns the buffer. */
	refcount_set(&req->ref, 2);
	init_completion(&req->done);
	req->hdr.code = cpu_to_le32(code);
	if (payload_len)
		memcpy(req->payload, payload, payload_len);
	sg_init_one(&out, &req->hdr, sizeof(req->hdr) + payload_len);
	sg_init_one(&in, &req->resp, sizeof(req->resp) + body_max);

	spin_lock_irqsave(&vr->ctrl_lock, flags);
	if (vr->removed)
		ret = -ENODEV;
	else
		ret = virtqueue_add_sgs(vr->ctrlq, sgs, 1, 1, req, GFP_ATOMIC);
	if (!ret)
		virtqueue_kick(vr->ctrlq);
	spin_unlock_irqrestore(&vr->ctrl_lock, flags);
	if (ret) {
		kfree(req);
		return ret == -ENOSPC ? -EBUSY : ret;
	}

	if (!wait_for_completion_timeout(&req->done, VRADIO_CTRL_TIMEOUT)) {
		dev_warn_ratelimited(&vr->vdev->dev,
				     "request 0x%x: no answer\n", code);
		ret = -ETIMEDOUT;
	} else if (req->used < sizeof(req->resp)) {
		ret = vr->removed ? -ENODEV : -EPROTO;
	} else {
		ret = vradio_status_errno(le32_to_cpu(req->resp.status));
		got = min_t(size_t, req->used - sizeof(req->resp), body_max);
		if (!ret && got < body_min)
			ret = -EPROTO;
		if (!ret && got)
			memcpy(body, req->body, got);
	}
	vradio_req_put(req);
	return ret ? ret : got;
}

/* A request whose successful answer has exactly @body_len body bytes. */
static int vradio_request(struct vradio *vr, u32 code, const void *payload,
			  size_t payload_len, void *body, size_t body_len)
{
	int ret = vradio_request_len(vr, code, payload, payload_len, body,
				     body_len, body_len);

	return ret < 0 ? ret : 0;
}

static int vradio_get_info(struct vradio *vr,
			   struct virtio_radio_program_info *info)
{
	return vradio_request(vr, VIRTIO_RADIO_REQ_GET_PROGRAM_INFO, NULL, 0,
			      info, sizeof(*info));
}

static void vradio_rds_flush(struct vradio *vr)
{
	unsigned long flags;

	spin_lock_irqsave(&vr->state_lock, flags);
	kfifo_reset(&vr->rds);
	spin_unlock_irqrestore(&vr->state_lock, flags);
}

static void vradio_handle_event(struct vradio *vr, const u8 *buf, u32 len)
{
	const struct virtio_radio_event_hdr *hdr = (const void *)buf;
	const struct virtio_radio_evt_tune_complete *tc;
	const struct virtio_radio_evt_rds_blocks *rds;
	const struct virtio_radio_config_flag *cf;
	const struct v4l2_rds_data *blk;
	unsigned int i, count;
	unsigned long flags;
	bool wake_rds = false;

	if (len < sizeof(*hdr))
		return;
	buf += sizeof(*hdr);
	len -= sizeof(*hdr);

	spin_lock_irqsave(&vr->state_lock, flags);
	if (le32_to_cpu(hdr->flags) & VIRTIO_RADIO_EVT_F_LOST)
		vr->events_lost++;
	switch (le32_to_cpu(hdr->type)) {
	case VIRTIO_RADIO_EVT_TUNE_COMPLETE:
		if (len < sizeof(*tc))
			break;
		tc = (const void *)buf;
		vr->done_op = le32_to_cpu(tc->op_id);
		vr->done_status = le32_to_cpu(tc->status);
		vr->info = tc->info;
		vr->info_valid = true;
		/* Blocks queued so far came from the previous frequency. */
		kfifo_reset(&vr->rds);
		wake_up(&vr->op_wait);
		break;
	case VIRTIO_RADIO_EVT_PROGRAM_INFO_CHANGED:
		if (len < sizeof(vr->info))
			break;
		memcpy(&vr->info, buf, sizeof(vr->info));
		vr->info_valid = true;
		break;
	case VIRTIO_RADIO_EVT_CONFIG_FLAG_CHANGED:
		if (len < sizeof(*cf))
			break;
		cf = (const void *)buf;
		if (le32_to_cpu(cf->flag) == VIRTIO_RADIO_FLAG_FORCE_MONO)
			vr->mono = cf->value == 1;
		break;
	case VIRTIO_RADIO_EVT_RDS_BLOCKS:
		if (len < sizeof(*rds) || !vr->rds_blocks)
			break;
		rds = (const void *)buf;
		count = min3((unsigned int)le16_to_cpu(rds->count),
			     (unsigned int)((len - sizeof(*rds)) / 3),
			     (unsigned int)VIRTIO_RADIO_RDS_BLOCKS_MAX);
		if (!READ_ONCE(vr->rds_on))
			break;
		for (i = 0; i < count; i++) {
			blk = (const void *)rds->blocks[i];
			/* A reader that falls behind loses the oldest blocks. */
			if (kfifo_is_full(&vr->rds))
				kfifo_skip(&vr->rds);
			kfifo_put(&vr->rds, *blk);
		}
		wake_rds = count > 0;
		break;
	default:
		/* ANTENNA_STATE, PROGRAM_LIST_UPDATE, later types: unused. */
		break;
	}
	spin_unlock_irqrestore(&vr->state_lock, flags);
	if (wake_rds)
		wake_up_interruptible(&vr->rds_wait);
}

static int vradio_add_evt_buf(struct vradio *vr, u8 *buf, gfp_t gfp)
{
	struct scatterlist sg;

	sg_init_one(&sg, buf, VIRTIO_RADIO_EVT_BUF_SIZE);
	return virtqueue_add_inbuf(vr->evtq, &sg, 1, buf, gfp);
}

static void vradio_evt_work(struct work_struct *work)
{
	struct vradio *vr = container_of(work, struct vradio, evt_work);
	unsigned long flags;
	unsigned int len;
	bool kick = false;
	u8 *buf;

	for (;;) {
		spin_lock_irqsave(&vr->evt_lock, flags);
		buf = vr->removed ? NULL : virtqueue_get_buf(vr->evtq, &len);
		spin_unlock_irqrestore(&vr->evt_lock, flags);
		if (!buf)
			break;
		vradio_handle_event(vr, buf,
				    min_t(u32, len, VIRTIO_RADIO_EVT_BUF_SIZE));
		spin_lock_irqsave(&vr->evt_lock, flags);
		if (vradio_add_evt_buf(vr, buf, GFP_ATOMIC))
			dev_warn_ratelimited(&vr->vdev->dev,
					     "event buffer lost\n");
		kick = true;
		spin_unlock_irqrestore(&vr->evt_lock, flags);
	}
	if (kick) {
		spin_lock_irqsave(&vr->evt_lock, flags);
		virtqueue_kick(vr->evtq);
		spin_unlock_irqrestore(&vr->evt_lock, flags);
	}
}

static void vradio_evt_done(struct virtqueue *vq)
{
	struct vradio *vr = vq->vdev->priv;

	schedule_work(&vr->evt_work);
}

static bool vradio_op_done(struct vradio *vr, u32 op_id)
{
	unsigned long flags;
	bool done;

	spin_lock_irqsave(&vr->state_lock, flags);
	done = vr->done_op == op_id || vr->removed;
	spin_unlock_irqrestore(&vr->state_lock, flags);
	return done;
}

/* Cancels the pending operation and waits for its TUNE_COMPLETE. */
static void vradio_cancel(struct vradio *vr)
{
	struct virtio_radio_op op;
	u32 op_id;

	if (vradio_request(vr, VIRTIO_RADIO_REQ_CANCEL, NULL, 0, &op,
			   sizeof(op)))
		return;
	/* The device queues the CANCELLED completion before answering. */
	op_id = le32_to_cpu(op.op_id);
	if (op_id)
		wait_event_timeout(vr->op_wait, vradio_op_done(vr, op_id),
				   VRADIO_CANCEL_TIMEOUT);
}

/*
 * Starts a tune, seek or step and waits for its TUNE_COMPLETE. A signal
 * cancels the operation on the device. On success @info is the program the
 * tuner ended on.
 */
static int vradio_operation(struct vradio *vr, u32 code, const void *payload,
			    size_t payload_len,
			    struct virtio_radio_program_info *info)
{
	struct virtio_radio_op op;
	unsigned long flags;
	u32 op_id, status;
	long left;
	int ret;

	ret = vradio_request(vr, code, payload, payload_len, &op, sizeof(op));
	if (ret == -EBUSY) {
		/* An operation we gave up on is still running: replace it. */
		vradio_cancel(vr);
		ret = vradio_request(vr, code, payload, payload_len, &op,
				     sizeof(op));
	}
	if (ret)
		return ret;
	op_id = le32_to_cpu(op.op_id);
	left = wait_event_interruptible_timeout(vr->op_wait,
						vradio_op_done(vr, op_id),
						VRADIO_OP_TIMEOUT);
	if (left <= 0) {
		vradio_cancel(vr);
		return left ? -EINTR : -ETIMEDOUT;
	}
	if (vr->removed)
		return -ENODEV;
	spin_lock_irqsave(&vr->state_lock, flags);
	status = vr->done_status;
	*info = vr->info;
	spin_unlock_irqrestore(&vr->state_lock, flags);
	vr->freq_khz = le32_to_cpu(info->frequency_khz);
	return vradio_status_errno(status);
}

static const struct vradio_band *vradio_band_of(struct vradio *vr, u32 khz)
{
	unsigned int i;

	for (i = 0; i < vr->num_bands; i++)
		if (khz >= vr->bands[i].low_khz && khz <= vr->bands[i].high_khz)
			return &vr->bands[i];
	return NULL;
}

/* The channel nearest to @khz: V4L2 clamps instead of refusing. */
static u32 vradio_nearest_channel(struct vradio *vr, u32 khz)
{
	const struct vradio_band *b, *best = &vr->bands[0];
	u32 dist, best_dist = U32_MAX, n;
	unsigned int i;

	for (i = 0; i < vr->num_bands; i++) {
		b = &vr->bands[i];
		if (khz < b->low_khz)
			dist = b->low_khz - khz;
		else if (khz > b->high_khz)
			dist = khz - b->high_khz;
		else
			dist = 0;
		if (dist < best_dist) {
			best = b;
			best_dist = dist;
		}
	}
	khz = clamp(khz, best->low_khz, best->high_khz);
	n = DIV_ROUND_CLOSEST(khz - best->low_khz, best->spacing_khz);
	khz = best->low_khz + n * best->spacing_khz;
	if (khz > best->high_khz)
		khz -= best->spacing_khz;
	return khz;
}

static u32 vradio_tuner_caps(struct vradio *vr)
{
	u32 caps = V4L2_TUNER_CAP_LOW | V4L2_TUNER_CAP_FREQ_BANDS;

	if (vr->caps & VIRTIO_RADIO_CAP_SEEK)
		caps |= V4L2_TUNER_CAP_HWSEEK_BOUNDED |
			V4L2_TUNER_CAP_HWSEEK_WRAP;
	if (vr->caps & VIRTIO_RADIO_CAP_STEREO)
		caps |= V4L2_TUNER_CAP_STEREO;
	if (vr->rds_blocks)
		caps |= V4L2_TUNER_CAP_RDS | V4L2_TUNER_CAP_RDS_BLOCK_IO;
	if (vr->caps & VIRTIO_RADIO_CAP_RDS)
		caps |= V4L2_TUNER_CAP_RDS | V4L2_TUNER_CAP_RDS_CONTROLS;
	return caps;
}

static int vradio_querycap(struct file *file, void *priv,
			   struct v4l2_capability *cap)
{
	struct vradio *vr = video_drvdata(file);

	struct device *parent = vr->vdev->dev.parent;

	strscpy(cap->driver, KBUILD_MODNAME, sizeof(cap->driver));
	strscpy(cap->card, vr->card, sizeof(cap->card));
	/* V4L2 names the bus of the transport: virtio-pci or virtio-mmio. */
	if (parent && dev_is_pci(parent))
		snprintf(cap->bus_info, sizeof(cap->bus_info), "PCI:%s",
			 pci_name(to_pci_dev(parent)));
	else
		snprintf(cap->bus_info, sizeof(cap->bus_info), "platform:%s",
			 parent ? dev_name(parent) : dev_name(&vr->vdev->dev));
	return 0;
}

static int vradio_g_tuner(struct file *file, void *priv, struct v4l2_tuner *t)
{
	struct vradio *vr = video_drvdata(file);
	struct virtio_radio_program_info info;
	unsigned int i;
	u32 flags;
	int ret;

	if (t->index > 0)
		return -EINVAL;
	strscpy(t->name, "AM/FM", sizeof(t->name));
	t->type = V4L2_TUNER_RADIO;
	t->capability = vradio_tuner_caps(vr);
	t->rangelow = U32_MAX;
	t->rangehigh = 0;
	for (i = 0; i < vr->num_bands; i++) {
		t->rangelow = min(t->rangelow,
				  vr->bands[i].low_khz * VRADIO_UNITS_PER_KHZ);
		t->rangehigh = max(t->rangehigh,
				   vr->bands[i].high_khz * VRADIO_UNITS_PER_KHZ);
	}
	t->audmode = vr->mono ? V4L2_TUNER_MODE_MONO : V4L2_TUNER_MODE_STEREO;
	t->rxsubchans = V4L2_TUNER_SUB_MONO;
	t->signal = 0;
	t->afc = 0;

	ret = vradio_get_info(vr, &info);
	if (ret == -ENODATA)
		return 0;	/* never tuned: no signal */
	if (ret)
		return ret;
	flags = le32_to_cpu(info.info_flags);
	t->signal = min_t(u32, info.signal_quality, 100) * 65535 / 100;
	if (flags & VIRTIO_RADIO_INFO_STEREO)
		t->rxsubchans = V4L2_TUNER_SUB_STEREO;
	if (le32_to_cpu(info.rds_fields) & VIRTIO_RADIO_RDS_PI)
		t->rxsubchans |= V4L2_TUNER_SUB_RDS;
	return 0;
}

static int vradio_s_tuner(struct file *file, void *priv,
			  const struct v4l2_tuner *t)
{
	struct vradio *vr = video_drvdata(file);
	struct virtio_radio_config_flag cf = {
		.flag = cpu_to_le32(VIRTIO_RADIO_FLAG_FORCE_MONO),
	};
	bool mono = t->audmode == V4L2_TUNER_MODE_MONO;
	int ret;

	if (t->index > 0)
		return -EINVAL;
	/* Without FORCE_MONO the audio mode stays what the device chooses. */
	if (!(vr->config_flags & BIT(VIRTIO_RADIO_FLAG_FORCE_MONO)))
		return 0;
	cf.value = mono;
	ret = vradio_request(vr, VIRTIO_RADIO_REQ_SET_CONFIG_FLAG, &cf,
			     sizeof(cf), NULL, 0);
	if (!ret)
		vr->mono = mono;
	return ret;
}

static int vradio_g_frequency(struct file *file, void *priv,
			      struct v4l2_frequency *f)
{
	struct vradio *vr = video_drvdata(file);
	struct virtio_radio_program_info info;
	int ret;

	if (f->tuner > 0)
		return -EINVAL;
	ret = vradio_get_info(vr, &info);
	if (!ret)
		vr->freq_khz = le32_to_cpu(info.frequency_khz);
	else if (ret != -ENODATA)
		return ret;
	f->type = V4L2_TUNER_RADIO;
	f->frequency = vr->freq_khz * VRADIO_UNITS_PER_KHZ;
	return 0;
}

static int vradio_s_frequency(struct file *file, void *priv,
			      const struct v4l2_frequency *f)
{
	struct vradio *vr = video_drvdata(file);
	struct virtio_radio_program_info info;
	struct virtio_radio_selector sel = {
		.primary_type = cpu_to_le32(VIRTIO_RADIO_ID_AMFM_FREQUENCY_KHZ),
	};
	u32 khz;

	if (f->tuner > 0 || f->type != V4L2_TUNER_RADIO)
		return -EINVAL;
	khz = DIV_ROUND_CLOSEST(f->frequency, VRADIO_UNITS_PER_KHZ);
	khz = vradio_nearest_channel(vr, khz);
	sel.primary_value = cpu_to_le64(khz);
	return vradio_operation(vr, VIRTIO_RADIO_REQ_TUNE, &sel, sizeof(sel),
				&info);
}

static int vradio_s_hw_freq_seek(struct file *file, void *priv,
				 const struct v4l2_hw_freq_seek *a)
{
	struct vradio *vr = video_drvdata(file);
	struct virtio_radio_program_info info;
	struct virtio_radio_seek seek = {};
	const struct vradio_band *band;
	u32 flags = 0;
	int ret;

	if (a->tuner > 0 || a->type != V4L2_TUNER_RADIO)
		return -EINVAL;
	if (file->f_flags & O_NONBLOCK)
		return -EWOULDBLOCK;
	/* The device seeks within the band it is tuned to. */
	if (a->rangelow || a->rangehigh)
		return -EINVAL;
	if (a->spacing) {
		band = vradio_band_of(vr, vr->freq_khz);
		if (!band)
			band = &vr->bands[0];
		/* A grid the device can follow: whole channels of the band. */
		if (a->spacing % 1000 || a->spacing / 1000 > U16_MAX ||
		    (a->spacing / 1000) % band->spacing_khz)
			return -EINVAL;
		seek.spacing_khz = cpu_to_le16(a->spacing / 1000);
	}
	if (a->seek_upward)
		flags |= VIRTIO_RADIO_SEEK_F_UP;
	if (!a->wrap_around)
		flags |= VIRTIO_RADIO_SEEK_F_NO_WRAP;
	seek.flags = cpu_to_le32(flags);
	ret = vradio_operation(vr, VIRTIO_RADIO_REQ_SEEK, &seek, sizeof(seek),
			       &info);
	if (ret)
		return ret;
	/* Nothing found: the device is back where the seek started. */
	if (!(le32_to_cpu(info.info_flags) & VIRTIO_RADIO_INFO_TUNABLE))
		return -ENODATA;
	return 0;
}

static int vradio_enum_freq_bands(struct file *file, void *priv,
				  struct v4l2_frequency_band *band)
{
	struct vradio *vr = video_drvdata(file);
	const struct vradio_band *b;

	if (band->tuner > 0 || band->index >= vr->num_bands)
		return -EINVAL;
	b = &vr->bands[band->index];
	band->type = V4L2_TUNER_RADIO;
	band->capability = vradio_tuner_caps(vr);
	band->rangelow = b->low_khz * VRADIO_UNITS_PER_KHZ;
	band->rangehigh = b->high_khz * VRADIO_UNITS_PER_KHZ;
	band->modulation = b->kind == VIRTIO_RADIO_BAND_AM ?
			   V4L2_BAND_MODULATION_AM : V4L2_BAND_MODULATION_FM;
	return 0;
}

/* PS and RadioText for a V4L2 string control: printable ASCII only. */
static void vradio_rds_text(char *dst, const u8 *src, size_t len)
{
	size_t i;

	for (i = 0; i < len && src[i]; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : ' ';
	while (i > 0 && dst[i - 1] == ' ')
		i--;
	dst[i] = '\0';
}

static int vradio_g_volatile_ctrl(struct v4l2_ctrl *ctrl)
{
	struct vradio *vr = container_of(ctrl->handler, struct vradio, hdl);
	struct virtio_radio_program_info info;
	u32 fields, flags;
	int ret;

	ret = vradio_get_info(vr, &info);
	if (ret == -ENODATA)
		memset(&info, 0, sizeof(info));
	else if (ret)
		return ret;
	fields = le32_to_cpu(info.rds_fields);
	flags = le32_to_cpu(info.info_flags);
	switch (ctrl->id) {
	case V4L2_CID_RDS_RX_PTY:
		ctrl->val = fields & VIRTIO_RADIO_RDS_PTY ? info.pty & 31 : 0;
		break;
	case V4L2_CID_RDS_RX_PS_NAME:
		if (fields & VIRTIO_RADIO_RDS_PS)
			vradio_rds_text(ctrl->p_new.p_char, info.ps,
					sizeof(info.ps));
		else
			ctrl->p_new.p_char[0] = '\0';
		break;
	case V4L2_CID_RDS_RX_RADIO_TEXT:
		if (fields & VIRTIO_RADIO_RDS_RT)
			vradio_rds_text(ctrl->p_new.p_char, info.rt,
					min_t(size_t, info.rt_len,
					      sizeof(info.rt)));
		else
			ctrl->p_new.p_char[0] = '\0';
		break;
	case V4L2_CID_RDS_RX_TRAFFIC_PROGRAM:
		ctrl->val = !!(flags & VIRTIO_RADIO_INFO_TP);
		break;
	case V4L2_CID_RDS_RX_TRAFFIC_ANNOUNCEMENT:
		ctrl->val = !!(flags & VIRTIO_RADIO_INFO_TA);
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

static int vradio_s_ctrl(struct v4l2_ctrl *ctrl)
{
	struct vradio *vr = container_of(ctrl->handler, struct vradio, hdl);

	switch (ctrl->id) {
	case V4L2_CID_RDS_RECEPTION:
		WRITE_ONCE(vr->rds_on, ctrl->val);
		if (!ctrl->val)
			vradio_rds_flush(vr);
		return 0;
	default:
		return -EINVAL;
	}
}

static const struct v4l2_ctrl_ops vradio_ctrl_ops = {
	.g_volatile_ctrl = vradio_g_volatile_ctrl,
	.s_ctrl = vradio_s_ctrl,
};

static ssize_t vradio_read(struct file *file, char __user *buf, size_t count,
			   loff_t *ppos)
{
	struct vradio *vr = video_drvdata(file);
	struct v4l2_rds_data blocks[32];
	unsigned int n;
	int ret;

	count = min_t(size_t, count / sizeof(blocks[0]), ARRAY_SIZE(blocks));
	if (!count)
		return 0;
	for (;;) {
		n = kfifo_out_spinlocked(&vr->rds, blocks, count,
					 &vr->state_lock);
		if (n)
			break;
		if (vr->removed)
			return -ENODEV;
		if (file->f_flags & O_NONBLOCK)
			return -EWOULDBLOCK;
		ret = wait_event_interruptible(vr->rds_wait,
					       !kfifo_is_empty(&vr->rds) ||
					       vr->removed);
		if (ret)
			return ret;
	}
	if (copy_to_user(buf, blocks, n * sizeof(blocks[0])))
		return -EFAULT;
	return n * sizeof(blocks[0]);
}

static __poll_t vradio_poll(struct file *file, struct poll_table_struct *wait)
{
	struct vradio *vr = video_drvdata(file);
	__poll_t req = poll_requested_events(wait);
	__poll_t res = v4l2_ctrl_poll(file, wait);

	if (req & (EPOLLIN | EPOLLRDNORM)) {
		poll_wait(file, &vr->rds_wait, wait);
		if (!kfifo_is_empty(&vr->rds))
			res |= EPOLLIN | EPOLLRDNORM;
	}
	return res;
}

static const struct v4l2_file_operations vradio_fops = {
	.owner = THIS_MODULE,
	.open = v4l2_fh_open,
	.release = v4l2_fh_release,
	.read = vradio_read,
	.poll = vradio_poll,
	.unlocked_ioctl = video_ioctl2,
};

static const struct v4l2_ioctl_ops vradio_ioctl_ops = {
	.vidioc_querycap = vradio_querycap,
	.vidioc_g_tuner = vradio_g_tuner,
	.vidioc_s_tuner = vradio_s_tuner,
	.vidioc_g_frequency = vradio_g_frequency,
	.vidioc_s_frequency = vradio_s_frequency,
	.vidioc_s_hw_freq_seek = vradio_s_hw_freq_seek,
	.vidioc_enum_freq_bands = vradio_enum_freq_bands,
	.vidioc_log_status = v4l2_ctrl_log_status,
	.vidioc_subscribe_event = v4l2_ctrl_subscribe_event,
	.vidioc_unsubscribe_event = v4l2_event_unsubscribe,
};

static ssize_t snd_stream_id_show(struct device *dev,
				  struct device_attribute *attr, char *buf)
{
	struct vradio *vr = dev_to_virtio(dev)->priv;

	return sysfs_emit(buf, "%u\n", vr->snd_stream_id);
}
static DEVICE_ATTR_RO(snd_stream_id);

static ssize_t snd_hda_fn_nid_show(struct device *dev,
				   struct device_attribute *attr, char *buf)
{
	struct vradio *vr = dev_to_virtio(dev)->priv;

	return sysfs_emit(buf, "%u\n", vr->snd_hda_fn_nid);
}
static DEVICE_ATTR_RO(snd_hda_fn_nid);

static ssize_t rds_pi_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	struct vradio *vr = dev_to_virtio(dev)->priv;
	struct virtio_radio_program_info info;
	int ret;

	ret = vradio_get_info(vr, &info);
	if (ret)
		return ret;
	if (!(le32_to_cpu(info.rds_fields) & VIRTIO_RADIO_RDS_PI))
		return -ENODATA;
	return sysfs_emit(buf, "0x%04x\n", le16_to_cpu(info.pi));
}
static DEVICE_ATTR_RO(rds_pi);

static struct attribute *vradio_attrs[] = {
	&dev_attr_snd_stream_id.attr,
	&dev_attr_snd_hda_fn_nid.attr,
	&dev_attr_rds_pi.attr,
	NULL
};

static const struct attribute_group vradio_attr_group = {
	.attrs = vradio_attrs,
};

static void vradio_read_config(struct vradio *vr)
{
	struct virtio_device *vdev = vr->vdev;

	virtio_cread_le(vdev, struct virtio_radio_config, capabilities,
			&vr->caps);
	virtio_cread_le(vdev, struct virtio_radio_config, config_flags,
			&vr->config_flags);
	virtio_cread_le(vdev, struct virtio_radio_config, snd_stream_id,
			&vr->snd_stream_id);
	virtio_cread_le(vdev, struct virtio_radio_config, snd_hda_fn_nid,
			&vr->snd_hda_fn_nid);
}

/* The region in force: the bands TUNE accepts, on their current grids. */
static int vradio_read_bands(struct vradio *vr)
{
	struct virtio_radio_get_bands req = { .full = 0 };
	struct virtio_radio_region *region;
	const struct virtio_radio_band *w;
	struct vradio_band *b;
	unsigned int i, n;
	int ret;

	region = kzalloc(sizeof(*region), GFP_KERNEL);
	if (!region)
		return -ENOMEM;
	/* The answer's length depends on num_bands; room for all is given. */
	ret = vradio_request_len(vr, VIRTIO_RADIO_REQ_GET_BANDS, &req,
				 sizeof(req), region, sizeof(*region),
				 offsetof(struct virtio_radio_region, bands));
	if (ret < 0)
		goto out;
	/* Bands the answer does not hold in full are not used. */
	region->num_bands = min_t(unsigned int, region->num_bands,
				  (ret - offsetof(struct virtio_radio_region,
						  bands)) /
				  sizeof(region->bands[0]));
	n = min_t(unsigned int, region->num_bands, VIRTIO_RADIO_MAX_BANDS);
	vr->num_bands = 0;
	for (i = 0; i < n; i++) {
		w = &region->bands[i];
		b = &vr->bands[vr->num_bands];
		b->kind = w->kind;
		b->low_khz = le32_to_cpu(w->low_khz);
		b->high_khz = le32_to_cpu(w->high_khz);
		b->spacing_khz = le16_to_cpu(w->spacing_khz);
		b->seek_spacing_khz = le16_to_cpu(w->seek_spacing_khz);
		/* Kept only if it is a band this driver can compute with. */
		if (!b->low_khz || b->low_khz > b->high_khz ||
		    !b->spacing_khz ||
		    b->high_khz > U32_MAX / VRADIO_UNITS_PER_KHZ)
			continue;
		vr->num_bands++;
	}
	vr->deemphasis = region->fm_deemphasis;
	ret = vr->num_bands ? 0 : -ENODEV;
out:
	kfree(region);
	return ret;
}

static int vradio_read_properties(struct vradio *vr)
{
	struct virtio_radio_properties *props;
	int ret;

	props = kzalloc(sizeof(*props), GFP_KERNEL);
	if (!props)
		return -ENOMEM;
	ret = vradio_request(vr, VIRTIO_RADIO_REQ_GET_PROPERTIES, NULL, 0,
			     props, sizeof(*props));
	if (!ret)
		strscpy(vr->card, props->product[0] ? (char *)props->product :
			"virtio-radio", sizeof(vr->card));
	kfree(props);
	return ret;
}

static void vradio_v4l2_release(struct v4l2_device *v4l2_dev)
{
	struct vradio *vr = container_of(v4l2_dev, struct vradio, v4l2_dev);

	v4l2_ctrl_handler_free(&vr->hdl);
	v4l2_device_unregister(&vr->v4l2_dev);
	mutex_destroy(&vr->lock);
	kfree(vr);
}

static int vradio_init_controls(struct vradio *vr)
{
	struct v4l2_ctrl_handler *hdl = &vr->hdl;
	static const u32 volatile_ids[] = {
		V4L2_CID_RDS_RX_PTY,
		V4L2_CID_RDS_RX_TRAFFIC_PROGRAM,
		V4L2_CID_RDS_RX_TRAFFIC_ANNOUNCEMENT,
	};
	struct v4l2_ctrl *ctrl;
	unsigned int i;
	u8 deemph;

	v4l2_ctrl_handler_init(hdl, 8);
	vr->rds_on = vr->rds_blocks;
	v4l2_ctrl_new_std(hdl, &vradio_ctrl_ops, V4L2_CID_RDS_RECEPTION, 0, 1,
			  1, vr->rds_on);
	/* The region in force decides de-emphasis; no request changes it. */
	deemph = vr->deemphasis & VIRTIO_RADIO_DEEMPHASIS_D75 ?
		 V4L2_DEEMPHASIS_75_uS : V4L2_DEEMPHASIS_50_uS;
	ctrl = v4l2_ctrl_new_std_menu(hdl, &vradio_ctrl_ops,
				      V4L2_CID_TUNE_DEEMPHASIS,
				      V4L2_DEEMPHASIS_75_uS, 0, deemph);
	if (ctrl)
		ctrl->flags |= V4L2_CTRL_FLAG_READ_ONLY;
	if (vr->caps & VIRTIO_RADIO_CAP_RDS) {
		for (i = 0; i < ARRAY_SIZE(volatile_ids); i++) {
			ctrl = v4l2_ctrl_new_std(hdl, &vradio_ctrl_ops,
						 volatile_ids[i], 0,
						 volatile_ids[i] ==
						 V4L2_CID_RDS_RX_PTY ? 31 : 1,
						 1, 0);
			if (ctrl)
				ctrl->flags |= V4L2_CTRL_FLAG_VOLATILE |
					       V4L2_CTRL_FLAG_READ_ONLY;
		}
		ctrl = v4l2_ctrl_new_std(hdl, &vradio_ctrl_ops,
					 V4L2_CID_RDS_RX_PS_NAME, 0, 8, 1, 0);
		if (ctrl)
			ctrl->flags |= V4L2_CTRL_FLAG_VOLATILE |
				       V4L2_CTRL_FLAG_READ_ONLY;
		ctrl = v4l2_ctrl_new_std(hdl, &vradio_ctrl_ops,
					 V4L2_CID_RDS_RX_RADIO_TEXT, 0, 64, 1,
					 0);
		if (ctrl)
			ctrl->flags |= V4L2_CTRL_FLAG_VOLATILE |
				       V4L2_CTRL_FLAG_READ_ONLY;
	}
	return hdl->error;
}

static int vradio_init_vqs(struct vradio *vr)
{
	struct virtqueue *vqs[VIRTIO_RADIO_VQ_MAX];
	struct virtqueue_info vqs_info[VIRTIO_RADIO_VQ_MAX] = {
		[VIRTIO_RADIO_VQ_CONTROL] = { "control", vradio_ctrl_done },
		[VIRTIO_RADIO_VQ_EVENT] = { "event", vradio_evt_done },
	};
	unsigned int i;
	int ret;

	ret = virtio_find_vqs(vr->vdev, VIRTIO_RADIO_VQ_MAX, vqs, vqs_info,
			      NULL);
	if (ret)
		return ret;
	vr->ctrlq = vqs[VIRTIO_RADIO_VQ_CONTROL];
	vr->evtq = vqs[VIRTIO_RADIO_VQ_EVENT];
	for (i = 0; i < VRADIO_EVT_BUFS; i++) {
		ret = vradio_add_evt_buf(vr, vr->evt_bufs +
					 i * VIRTIO_RADIO_EVT_BUF_SIZE,
					 GFP_KERNEL);
		if (ret)
			break;
	}
	/* The device needs one buffer; the rest only absorb bursts. */
	if (!i) {
		vr->vdev->config->del_vqs(vr->vdev);
		return ret;
	}
	return 0;
}

/* Stops the device and takes back every buffer it held. */
static void vradio_stop_device(struct vradio *vr)
{
	struct vradio_req *req;
	unsigned long flags;

	spin_lock_irqsave(&vr->ctrl_lock, flags);
	vr->removed = true;
	spin_unlock_irqrestore(&vr->ctrl_lock, flags);
	spin_lock_irqsave(&vr->state_lock, flags);
	spin_unlock_irqrestore(&vr->state_lock, flags);

	virtio_reset_device(vr->vdev);
	cancel_work_sync(&vr->evt_work);
	while ((req = virtqueue_detach_unused_buf(vr->ctrlq))) {
		req->used = 0;
		complete(&req->done);
		vradio_req_put(req);
	}
	while (virtqueue_detach_unused_buf(vr->evtq))
		;
	vr->vdev->config->del_vqs(vr->vdev);
	wake_up_all(&vr->op_wait);
	wake_up_interruptible_all(&vr->rds_wait);
}

static int vradio_probe(struct virtio_device *vdev)
{
	struct vradio *vr;
	int ret;

	BUILD_BUG_ON(sizeof(struct virtio_radio_config) != 160);
	BUILD_BUG_ON(sizeof(struct virtio_radio_band) != 16);
	BUILD_BUG_ON(sizeof(struct virtio_radio_properties) != 136);
	BUILD_BUG_ON(sizeof(struct virtio_radio_selector) != 24);
	BUILD_BUG_ON(sizeof(struct virtio_radio_seek) != 8);
	BUILD_BUG_ON(sizeof(struct virtio_radio_program_info) != 96);
	BUILD_BUG_ON(sizeof(struct virtio_radio_evt_tune_complete) != 104);
	BUILD_BUG_ON(sizeof(struct v4l2_rds_data) != 3);

	if (!virtio_has_feature(vdev, VIRTIO_F_VERSION_1))
		return -ENODEV;
	if (!vdev->config->get) {
		dev_err(&vdev->dev, "config space is not readable\n");
		return -EINVAL;
	}

	vr = kzalloc(sizeof(*vr), GFP_KERNEL);
	if (!vr)
		return -ENOMEM;
	vr->evt_bufs = kcalloc(VRADIO_EVT_BUFS, VIRTIO_RADIO_EVT_BUF_SIZE,
			       GFP_KERNEL);
	if (!vr->evt_bufs) {
		kfree(vr);
		return -ENOMEM;
	}
	vr->vdev = vdev;
	vdev->priv = vr;
	spin_lock_init(&vr->ctrl_lock);
	spin_lock_init(&vr->evt_lock);
	spin_lock_init(&vr->state_lock);
	mutex_init(&vr->lock);
	init_waitqueue_head(&vr->op_wait);
	init_waitqueue_head(&vr->rds_wait);
	INIT_KFIFO(vr->rds);
	INIT_WORK(&vr->evt_work, vradio_evt_work);
	vr->rds_blocks = virtio_has_feature(vdev, VIRTIO_RADIO_F_RDS_BLOCKS);
	vradio_read_config(vr);

	ret = vradio_init_vqs(vr);
	if (ret)
		goto err_free;
	virtio_device_ready(vdev);
	virtqueue_kick(vr->evtq);

	ret = vradio_read_properties(vr);
	if (!ret)
		ret = vradio_read_bands(vr);
	if (ret) {
		dev_err(&vdev->dev, "device does not answer: %d\n", ret);
		goto err_stop;
	}
	vr->freq_khz = vr->bands[0].low_khz;

	ret = v4l2_device_register(&vdev->dev, &vr->v4l2_dev);
	if (ret)
		goto err_stop;
	vr->v4l2_dev.release = vradio_v4l2_release;
	ret = vradio_init_controls(vr);
	if (ret)
		goto err_v4l2;
	vr->v4l2_dev.ctrl_handler = &vr->hdl;

	strscpy(vr->vdev_radio.name, vr->card, sizeof(vr->vdev_radio.name));
	vr->vdev_radio.v4l2_dev = &vr->v4l2_dev;
	vr->vdev_radio.fops = &vradio_fops;
	vr->vdev_radio.ioctl_ops = &vradio_ioctl_ops;
	vr->vdev_radio.release = video_device_release_empty;
	vr->vdev_radio.lock = &vr->lock;
	vr->vdev_radio.device_caps = V4L2_CAP_TUNER | V4L2_CAP_RADIO;
	if (vr->caps & VIRTIO_RADIO_CAP_SEEK)
		vr->vdev_radio.device_caps |= V4L2_CAP_HW_FREQ_SEEK;
	else
		v4l2_disable_ioctl(&vr->vdev_radio, VIDIOC_S_HW_FREQ_SEEK);
	if (vr->rds_blocks)
		vr->vdev_radio.device_caps |= V4L2_CAP_RDS_CAPTURE |
					      V4L2_CAP_READWRITE;
	video_set_drvdata(&vr->vdev_radio, vr);

	ret = sysfs_create_group(&vdev->dev.kobj, &vradio_attr_group);
	if (ret)
		goto err_v4l2;
	ret = video_register_device(&vr->vdev_radio, VFL_TYPE_RADIO, -1);
	if (ret)
		goto err_sysfs;
	dev_info(&vdev->dev, "%s on %s: %u band(s), capabilities 0x%x%s\n",
		 vr->card, video_device_node_name(&vr->vdev_radio),
		 vr->num_bands, vr->caps, vr->rds_blocks ? ", RDS blocks" : "");
	return 0;

err_sysfs:
	sysfs_remove_group(&vdev->dev.kobj, &vradio_attr_group);
err_v4l2:
	vradio_stop_device(vr);
	kfree(vr->evt_bufs);
	/* Frees the control handler and @vr. */
	v4l2_device_put(&vr->v4l2_dev);
	return ret;
err_stop:
	vradio_stop_device(vr);
err_free:
	kfree(vr->evt_bufs);
	mutex_destroy(&vr->lock);
	kfree(vr);
	return ret;
}

static void vradio_remove(struct virtio_device *vdev)
{
	struct vradio *vr = vdev->priv;

	sysfs_remove_group(&vdev->dev.kobj, &vradio_attr_group);
	video_unregister_device(&vr->vdev_radio);
	/* Wait for ioctls in progress (they hold vr->lock) to see @removed. */
	vradio_stop_device(vr);
	mutex_lock(&vr->lock);
	mutex_unlock(&vr->lock);
	kfree(vr->evt_bufs);
	vr->evt_bufs = NULL;
	v4l2_device_disconnect(&vr->v4l2_dev);
	/* The last open file handle frees @vr. */
	v4l2_device_put(&vr->v4l2_dev);
}

static const struct virtio_device_id vradio_id_table[] = {
	{ VIRTIO_ID_RADIO, VIRTIO_DEV_ANY_ID },
	{ 0 },
};
MODULE_DEVICE_TABLE(virtio, vradio_id_table);

static const unsigned int vradio_features[] = {
	VIRTIO_RADIO_F_RDS_BLOCKS,
};

static struct virtio_driver vradio_driver = {
	.driver.name = KBUILD_MODNAME,
	.id_table = vradio_id_table,
	.feature_table = vradio_features,
	.feature_table_size = ARRAY_SIZE(vradio_features),
	.probe = vradio_probe,
	.remove = vradio_remove,
};
module_virtio_driver(vradio_driver);

MODULE_DESCRIPTION("V4L2 radio driver for virtio-radio devices");
MODULE_LICENSE("GPL");
