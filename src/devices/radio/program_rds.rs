//! What a decoded RDS state means for the device's `virtio_radio_program_info`.

use crate::hw::tuner::rds::RdsState;

use super::constants::{
    INFO_TRAFFIC_ANNOUNCEMENT, INFO_TRAFFIC_PROGRAM, RDS_PI, RDS_PS, RDS_PTY, RDS_RT,
};
use super::wire::ProgramInfo;

impl ProgramInfo {
    /// Copies `rds`'s published fields in (validity bits, PI, PTY, PS, RT, TP/TA flags).
    pub fn apply_rds(&mut self, rds: &RdsState) {
        self.rds_fields &= !(RDS_PI | RDS_PTY | RDS_PS | RDS_RT);
        self.info_flags &= !(INFO_TRAFFIC_PROGRAM | INFO_TRAFFIC_ANNOUNCEMENT);
        if let Some(pi) = rds.pi {
            self.rds_fields |= RDS_PI;
            self.pi = pi;
        }
        if let Some(pty) = rds.pty {
            self.rds_fields |= RDS_PTY;
            self.pty = pty;
        }
        if let Some(ps) = rds.ps {
            self.rds_fields |= RDS_PS;
            self.ps = ps;
        }
        if let Some(rt) = &rds.rt {
            self.rds_fields |= RDS_RT;
            self.rt = rt.clone();
        }
        if rds.tp == Some(true) {
            self.info_flags |= INFO_TRAFFIC_PROGRAM;
        }
        if rds.ta == Some(true) {
            self.info_flags |= INFO_TRAFFIC_ANNOUNCEMENT;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::radio::constants::INFO_STEREO;
    use crate::hw::tuner::rds::{RdsDecoder, RdsEncoder};

    #[test]
    fn decoded_rds_fills_program_info() {
        let mut enc = RdsEncoder::new(0xD3C2, 5, b"SIM FM", b"Simulated station");
        enc.set_traffic(true, true);
        let mut dec = RdsDecoder::new();
        for b in enc.blocks(40) {
            dec.push(b);
        }
        let mut info = ProgramInfo::new(99_900);
        info.info_flags = INFO_STEREO;
        info.apply_rds(&dec.state());
        assert_eq!(info.rds_fields, RDS_PI | RDS_PTY | RDS_PS | RDS_RT);
        assert_eq!(info.pi, 0xD3C2);
        assert_eq!(info.pty, 5);
        assert_eq!(&info.ps, b"SIM FM  ");
        assert_eq!(info.rt, b"Simulated station");
        assert_eq!(
            info.info_flags,
            INFO_STEREO | INFO_TRAFFIC_PROGRAM | INFO_TRAFFIC_ANNOUNCEMENT
        );
    }
}
