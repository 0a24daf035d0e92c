/** RealTek 8139 registers as the driver knows them (FreeBSD's sys/dev/rl/if_rlreg.h; the RTL8139C datasheet). */

export const RL_IDR0 = 0x00;
export const RL_MAR0 = 0x08;
export const RL_MAR4 = 0x0c;
export const RL_TXSTAT0 = 0x10;
export const RL_TXADDR0 = 0x20;
export const RL_RXADDR = 0x30;
export const RL_COMMAND = 0x37;
export const RL_CURRXADDR = 0x38;
export const RL_CURRXBUF = 0x3a;
export const RL_IMR = 0x3c;
export const RL_ISR = 0x3e;
export const RL_TXCFG = 0x40;
export const RL_RXCFG = 0x44;
export const RL_MEDIASTAT = 0x58;

/** Command register. */
export const RL_CMD_EMPTY_RXBUF = 0x01;
export const RL_CMD_TX_ENB = 0x04;
export const RL_CMD_RX_ENB = 0x08;
export const RL_CMD_RESET = 0x10;

/** Interrupt bits. */
export const RL_ISR_RX_OK = 0x0001;
export const RL_ISR_RX_ERR = 0x0002;
export const RL_ISR_TX_OK = 0x0004;
export const RL_ISR_TX_ERR = 0x0008;
export const RL_ISR_RX_OVERRUN = 0x0010;
export const RL_ISR_PKT_UNDERRUN = 0x0020;
export const RL_ISR_FIFO_OFLOW = 0x0040;
export const RL_INTRS = RL_ISR_RX_OK | RL_ISR_RX_ERR | RL_ISR_TX_OK | RL_ISR_TX_ERR | RL_ISR_RX_OVERRUN | RL_ISR_PKT_UNDERRUN | RL_ISR_FIFO_OFLOW;

/** Transmit status. */
export const RL_TXSTAT_LENMASK = 0x1fff;
export const RL_TXSTAT_OWN = 0x2000;
export const RL_TXSTAT_TX_UNDERRUN = 0x4000;
export const RL_TXSTAT_TX_OK = 0x8000;
export const RL_TXSTAT_TXABRT = 0x4000_0000;

/** Receive configuration: accept own, multicast and broadcast; 32 KiB ring; unlimited DMA burst, no FIFO threshold. */
export const RL_RXCFG_RX_INDIV = 0x02;
export const RL_RXCFG_RX_MULTI = 0x04;
export const RL_RXCFG_RX_BROAD = 0x08;
export const RL_RXBUF_32 = 0x1000;
export const RL_RXCFG_CONFIG = 0xe700;
/** Transmit configuration: normal interframe gap, 2 KiB DMA bursts. */
export const RL_TXCFG_CONFIG = 0x0300_0700;

/** Receive header status. */
export const RL_RXSTAT_RXOK = 0x0001;

/** Media status: link down. */
export const RL_MEDIASTAT_LINKB = 0x04;

/** The ring the driver uses (32 KiB, no WRAP: a packet that reaches the end continues at the start), plus 16 spare bytes. */
export const RL_RXBUFLEN = 32 * 1024;
export const RL_TX_LIST_CNT = 4;
/** Largest frame handed in (1500 + header + a VLAN tag + FCS) and the Ethernet minimum. */
export const RL_MAX_FRAMELEN = 1522;
export const RL_MIN_FRAMELEN = 60;
export const ETHER_CRC_LEN = 4;
