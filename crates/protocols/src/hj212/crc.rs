//! The HJ 212 CRC-16 (appendix of HJ 212-2017).

/// CRC-16 of an HJ 212 data segment: polynomial 0xA001 (0x8005 reflected),
/// initial value 0xFFFF, no final xor. The frame carries it as 4 hex digits.
///
/// The standard's own example data segment
/// `QN=20160801085857223;…;CP=&&RtdInterval=30&&` gives 0x1C80.
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &byte in data {
        crc = (crc >> 8) ^ u16::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xA001 } else { crc >> 1 };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_example() {
        let data =
            b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&";
        assert_eq!(crc16(data), 0x1C80);
    }

    #[test]
    fn empty_is_initial_value() {
        assert_eq!(crc16(b""), 0xFFFF);
    }
}
