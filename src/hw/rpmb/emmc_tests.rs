use super::*;
use crate::devices::rpmb::constants::*;
use crate::devices::rpmb::engine::{EngineLimits, RpmbEngine};
use crate::devices::rpmb::frame::Frame;
use crate::devices::rpmb::test_hmac::hmac_sha256;
use crate::hw::rpmb::memory::MemoryRpmb;
use std::mem::{offset_of, size_of};

#[test]
fn ioctl_numbers_match_the_kernel() {
    // Values of MMC_IOC_CMD and MMC_IOC_MULTI_CMD on 64-bit Linux (asm-generic ioctl.h).
    assert_eq!(MMC_IOC_CMD, 0xc048_b300);
    assert_eq!(MMC_IOC_MULTI_CMD, 0xc008_b301);
}

#[test]
fn mmc_ioc_cmd_layout_matches_the_kernel() {
    assert_eq!(size_of::<MmcIocCmd>(), 72);
    assert_eq!(offset_of!(MmcIocCmd, write_flag), 0);
    assert_eq!(offset_of!(MmcIocCmd, is_acmd), 4);
    assert_eq!(offset_of!(MmcIocCmd, opcode), 8);
    assert_eq!(offset_of!(MmcIocCmd, arg), 12);
    assert_eq!(offset_of!(MmcIocCmd, response), 16);
    assert_eq!(offset_of!(MmcIocCmd, flags), 32);
    assert_eq!(offset_of!(MmcIocCmd, blksz), 36);
    assert_eq!(offset_of!(MmcIocCmd, blocks), 40);
    assert_eq!(offset_of!(MmcIocCmd, postsleep_min_us), 44);
    assert_eq!(offset_of!(MmcIocCmd, postsleep_max_us), 48);
    assert_eq!(offset_of!(MmcIocCmd, data_timeout_ns), 52);
    assert_eq!(offset_of!(MmcIocCmd, cmd_timeout_ms), 56);
    assert_eq!(offset_of!(MmcIocCmd, data_ptr), 64);
    assert_eq!(offset_of!(MmcIocMultiCmd3, cmds), 8);
    assert_eq!(size_of::<MmcIocMultiCmd3>(), 8 + 3 * 72);
}

#[test]
fn command_flags_are_storageproxyds() {
    assert_eq!(MMC_RPMB_CMD_FLAGS, 0xb5);
    assert_eq!(MMC_WRITE_FLAG_RELW as u32, 0x8000_0001);
}

#[test]
fn build_multi_points_at_the_buffers() {
    let w = vec![7u8; 1024];
    let mut r = vec![0u8; 512];
    let (wp, rp) = (w.as_ptr() as u64, r.as_mut_ptr() as u64);
    let mut cmds = [
        MmcCommand {
            write_flag: MMC_WRITE_FLAG_RELW,
            opcode: MMC_WRITE_MULTIPLE_BLOCK,
            flags: MMC_RPMB_CMD_FLAGS,
            blocks: 2,
            data: MmcData::Write(&w),
        },
        MmcCommand {
            write_flag: MMC_WRITE_FLAG_R,
            opcode: MMC_READ_MULTIPLE_BLOCK,
            flags: MMC_RPMB_CMD_FLAGS,
            blocks: 1,
            data: MmcData::Read(&mut r),
        },
    ];
    let multi = build_multi(&mut cmds).unwrap();
    assert_eq!(multi.num_of_cmds, 2);
    assert_eq!(multi.cmds[0].data_ptr, wp);
    assert_eq!(multi.cmds[0].blocks, 2);
    assert_eq!(multi.cmds[0].blksz, 512);
    assert_eq!(multi.cmds[0].write_flag, MMC_WRITE_FLAG_RELW);
    assert_eq!(multi.cmds[1].data_ptr, rp);
    assert_eq!(multi.cmds[1].opcode, 18);
    // A length that disagrees with the block count never reaches the kernel.
    cmds[0].blocks = 3;
    assert!(build_multi(&mut cmds).is_err());
    assert!(build_multi(&mut []).is_err());
}

#[test]
fn a_node_that_is_not_an_mmc_device_reports_the_kernels_error() {
    let mut dev = EmmcRpmb::open(Path::new("/dev/null")).unwrap();
    let mut out = [[0u8; 512]; 1];
    let err = dev.send(&[], &[[0u8; 512]], &mut out).unwrap_err();
    match err {
        FrameIoError::Os { what, source } => {
            assert_eq!(what, "MMC_IOC_MULTI_CMD");
            assert_eq!(source.raw_os_error(), Some(libc::ENOTTY));
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// Plays an eMMC: records each command and runs the frames through an RPMB engine.
struct FakeMmc {
    engine: RpmbEngine<MemoryRpmb>,
    log: Vec<(i32, u32, u32, u32)>,
}

impl MmcHost for FakeMmc {
    fn multi_cmd(&mut self, cmds: &mut [MmcCommand<'_>]) -> std::io::Result<()> {
        let mut request = Vec::new();
        for cmd in cmds.iter_mut() {
            self.log
                .push((cmd.write_flag, cmd.opcode, cmd.flags, cmd.blocks));
            match &mut cmd.data {
                MmcData::Write(d) => request.extend(Frame::parse_all(d).unwrap()),
                MmcData::Read(d) => {
                    let out = self.engine.process(&request, cmd.blocks as usize);
                    let bytes = Frame::serialize_all(&out);
                    d[..bytes.len()].copy_from_slice(&bytes);
                }
            }
        }
        Ok(())
    }
}

fn raw(f: &Frame) -> RawFrame {
    *f.as_bytes()
}

#[test]
fn write_and_read_sequences_are_the_commands_storageproxyd_sends() {
    let key = [0x33u8; 32];
    let engine = RpmbEngine::new(MemoryRpmb::new(512).unwrap(), EngineLimits::default()).unwrap();
    let mut dev = EmmcRpmb::new(FakeMmc {
        engine,
        log: Vec::new(),
    });
    let mut pk = Frame::with_type(REQ_PROGRAM_KEY);
    pk.set_key_mac(&key);
    let rr = Frame::with_type(REQ_RESULT_READ);
    let mut out = [[0u8; 512]; 1];
    dev.send(&[raw(&pk)], &[raw(&rr)], &mut out).unwrap();
    assert_eq!(Frame::from_slice(&out[0]).unwrap().result(), RES_OK);
    assert_eq!(
        dev.host.log,
        vec![
            (MMC_WRITE_FLAG_RELW, 25, 0xb5, 1),
            (MMC_WRITE_FLAG_W, 25, 0xb5, 1),
            (MMC_WRITE_FLAG_R, 18, 0xb5, 1)
        ]
    );

    let mut w = Frame::with_type(REQ_DATA_WRITE);
    w.set_address(5);
    w.set_block_count(1);
    w.set_data(&[0xa5; 256]);
    w.set_key_mac(&hmac_sha256(&key, &w.as_bytes()[228..]));
    dev.send(&[raw(&w)], &[raw(&rr)], &mut out).unwrap();
    let resp = Frame::from_slice(&out[0]).unwrap();
    assert_eq!((resp.req_resp(), resp.result()), (RESP_DATA_WRITE, RES_OK));
    assert_eq!(resp.write_counter(), 1);

    // A read as Trusty sends it: block count 0, the transfer length sets the blocks.
    let mut rd = Frame::with_type(REQ_DATA_READ);
    rd.set_address(4);
    rd.set_nonce(&[9; 16]);
    let mut two = [[0u8; 512]; 2];
    dev.log_clear();
    dev.send(&[], &[raw(&rd)], &mut two).unwrap();
    assert_eq!(
        dev.host.log,
        vec![
            (MMC_WRITE_FLAG_W, 25, 0xb5, 1),
            (MMC_WRITE_FLAG_R, 18, 0xb5, 2)
        ]
    );
    let frames: Vec<Frame> = two.iter().map(|b| Frame::from_slice(b).unwrap()).collect();
    assert_eq!(frames[0].data(), &[0; 256]);
    assert_eq!(frames[1].data(), &[0xa5; 256]);
    let mut mac_input = frames[0].as_bytes()[228..].to_vec();
    mac_input.extend_from_slice(&frames[1].as_bytes()[228..]);
    assert_eq!(&frames[1].key_mac()[..], &hmac_sha256(&key, &mac_input));
    assert!(matches!(
        dev.send(&[], &[], &mut []),
        Err(FrameIoError::Request(_))
    ));
}

impl EmmcRpmb<FakeMmc> {
    fn log_clear(&mut self) {
        self.host.log.clear();
    }
}
