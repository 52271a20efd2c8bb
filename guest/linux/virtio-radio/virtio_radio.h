/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-radio wire format (docs/virtio-radio.md in the drivervm repository).
 * Every structure is packed little-endian with the offsets the document
 * gives; BUILD_BUG_ON()s in the driver pin their sizes.
 */
#ifndef _VIRTIO_RADIO_H
#define _VIRTIO_RADIO_H

#include <linux/types.h>

/* Experimental device ID (document section 1). */
#define VIRTIO_ID_RADIO			56

#define VIRTIO_RADIO_VQ_CONTROL		0
#define VIRTIO_RADIO_VQ_EVENT		1
#define VIRTIO_RADIO_VQ_MAX		2

#define VIRTIO_RADIO_F_RDS_BLOCKS	0

#define VIRTIO_RADIO_CAP_RDS		BIT(0)
#define VIRTIO_RADIO_CAP_RBDS		BIT(1)
#define VIRTIO_RADIO_CAP_STEREO		BIT(2)
#define VIRTIO_RADIO_CAP_SEEK		BIT(3)
#define VIRTIO_RADIO_CAP_PROGRAM_LIST	BIT(4)
#define VIRTIO_RADIO_CAP_BACKGROUND	BIT(5)

#define VIRTIO_RADIO_MAX_BANDS		8
#define VIRTIO_RADIO_BAND_FM		1
#define VIRTIO_RADIO_BAND_AM		2

#define VIRTIO_RADIO_DEEMPHASIS_D50	BIT(0)
#define VIRTIO_RADIO_DEEMPHASIS_D75	BIT(1)

enum virtio_radio_req_code {
	VIRTIO_RADIO_REQ_GET_PROPERTIES = 0x0001,
	VIRTIO_RADIO_REQ_GET_BANDS = 0x0002,
	VIRTIO_RADIO_REQ_TUNE = 0x0003,
	VIRTIO_RADIO_REQ_SEEK = 0x0004,
	VIRTIO_RADIO_REQ_STEP = 0x0005,
	VIRTIO_RADIO_REQ_CANCEL = 0x0006,
	VIRTIO_RADIO_REQ_GET_PROGRAM_INFO = 0x0007,
	VIRTIO_RADIO_REQ_GET_CONFIG_FLAG = 0x0008,
	VIRTIO_RADIO_REQ_SET_CONFIG_FLAG = 0x0009,
};

enum virtio_radio_status {
	VIRTIO_RADIO_S_OK = 0,
	VIRTIO_RADIO_S_INTERNAL_ERROR = 1,
	VIRTIO_RADIO_S_INVALID_ARGUMENTS = 2,
	VIRTIO_RADIO_S_INVALID_STATE = 3,
	VIRTIO_RADIO_S_NOT_SUPPORTED = 4,
	VIRTIO_RADIO_S_TIMEOUT = 5,
	VIRTIO_RADIO_S_CANCELLED = 6,
	VIRTIO_RADIO_S_UNKNOWN_ERROR = 7,
	VIRTIO_RADIO_S_BUSY = 8,
	VIRTIO_RADIO_S_BAD_MSG = 9,
};

enum virtio_radio_evt_type {
	VIRTIO_RADIO_EVT_TUNE_COMPLETE = 0x1000,
	VIRTIO_RADIO_EVT_PROGRAM_INFO_CHANGED = 0x1001,
	VIRTIO_RADIO_EVT_ANTENNA_STATE = 0x1002,
	VIRTIO_RADIO_EVT_PROGRAM_LIST_UPDATE = 0x1003,
	VIRTIO_RADIO_EVT_CONFIG_FLAG_CHANGED = 0x1004,
	VIRTIO_RADIO_EVT_RDS_BLOCKS = 0x1005,
};

#define VIRTIO_RADIO_EVT_F_LOST		BIT(0)

#define VIRTIO_RADIO_SEEK_F_UP		BIT(0)
#define VIRTIO_RADIO_SEEK_F_NO_WRAP	BIT(2)

#define VIRTIO_RADIO_ID_AMFM_FREQUENCY_KHZ	1

/* Config flag numbers (AIDL ConfigFlag). */
#define VIRTIO_RADIO_FLAG_FORCE_MONO	1

/* Program information flags (AIDL ProgramInfo.FLAG_*). */
#define VIRTIO_RADIO_INFO_MUTED		BIT(1)
#define VIRTIO_RADIO_INFO_TP		BIT(2)
#define VIRTIO_RADIO_INFO_TA		BIT(3)
#define VIRTIO_RADIO_INFO_TUNABLE	BIT(4)
#define VIRTIO_RADIO_INFO_STEREO	BIT(5)

#define VIRTIO_RADIO_RDS_PI		BIT(0)
#define VIRTIO_RADIO_RDS_PTY		BIT(1)
#define VIRTIO_RADIO_RDS_PS		BIT(2)
#define VIRTIO_RADIO_RDS_RT		BIT(3)

/* Smallest eventq buffer the device may rely on (section 5). */
#define VIRTIO_RADIO_EVT_BUF_SIZE	256
/* Most raw RDS blocks in one RDS_BLOCKS event. */
#define VIRTIO_RADIO_RDS_BLOCKS_MAX	64

struct virtio_radio_band {
	__u8 kind;
	__u8 reserved[3];
	__le32 low_khz;
	__le32 high_khz;
	__le16 spacing_khz;
	__le16 seek_spacing_khz;
} __packed;

struct virtio_radio_config {
	__le32 capabilities;
	__le32 config_flags;
	__u8 num_bands;
	__u8 num_antennas;
	__u8 reserved[2];
	__le32 antenna_connected;
	__le32 snd_stream_id;
	__le32 snd_hda_fn_nid;
	__le32 snd_jack_id;
	__u8 reserved2[4];
	struct virtio_radio_band bands[VIRTIO_RADIO_MAX_BANDS];
} __packed;

struct virtio_radio_req_hdr {
	__le32 code;
	__u8 reserved[4];
} __packed;

struct virtio_radio_resp_hdr {
	__le32 status;
	__u8 reserved[4];
} __packed;

struct virtio_radio_event_hdr {
	__le32 type;
	__le32 flags;
} __packed;

struct virtio_radio_properties {
	__u8 maker[32];
	__u8 product[32];
	__u8 version[32];
	__u8 serial[32];
	__le32 identifier_types;
	__le32 capabilities;
} __packed;

struct virtio_radio_get_bands {
	__u8 full;
	__u8 reserved[7];
} __packed;

struct virtio_radio_region {
	__u8 num_bands;
	__u8 fm_deemphasis;
	__u8 fm_rds;
	__u8 reserved[5];
	struct virtio_radio_band bands[VIRTIO_RADIO_MAX_BANDS];
} __packed;

struct virtio_radio_selector {
	__le32 primary_type;
	__le32 secondary_type;
	__le64 primary_value;
	__le64 secondary_value;
} __packed;

struct virtio_radio_seek {
	__le32 flags;
	__le16 spacing_khz;
	__u8 reserved[2];
} __packed;

struct virtio_radio_op {
	__le32 op_id;
	__u8 reserved[4];
} __packed;

struct virtio_radio_config_flag {
	__le32 flag;
	__u8 value;
	__u8 reserved[3];
} __packed;

struct virtio_radio_program_info {
	__le32 frequency_khz;
	__le32 info_flags;
	__le32 rds_fields;
	__le16 pi;
	__u8 pty;
	__u8 signal_quality;
	__u8 ps[8];
	__u8 rt_len;
	__u8 band;
	__u8 reserved[6];
	__u8 rt[64];
} __packed;

struct virtio_radio_evt_tune_complete {
	__le32 op_id;
	__le32 status;
	struct virtio_radio_program_info info;
} __packed;

struct virtio_radio_evt_rds_blocks {
	__le16 count;
	__u8 reserved[2];
	__u8 blocks[][3];
} __packed;

#endif /* _VIRTIO_RADIO_H */
