#!/bin/false
# sealmq's board definition for Espruino running on QEMU's netduinoplus2 machine (STM32F405, Cortex-M4).
#
# Written for sealmq (scripts/espruino/targets/qemu/) in the schema of Espruino's board files, modelled on
# its boards/STM32F4DISCOVERY.py (by Gordon Williams, Mozilla Public License 2.0); this file is under the
# same licence (http://mozilla.org/MPL/2.0/). Only this project's values are in it.
#
# How it differs from STM32F4DISCOVERY, and why:
# - console on EV_SERIAL1 (USART1, QEMU's first -serial): QEMU models no USB OTG, so no USB device;
# - libraries CRYPTO, SHA256, SHA512, AES (what the sealmq firmware uses natively); no NET (the machine has
#   no network interface), FILESYSTEM (no SD card), USB_HID, GRAPHICS or NEOPIXEL;
# - RAM is 128 KB: QEMU gives the chip one 192 KB SRAM block at 0x20000000 (no CCM at 0x10000000), and
#   its top 64 KB (0x20020000) holds Storage, since QEMU's flash is read-only and its flash controller is not
#   modelled (patch 0002 makes the flash functions treat that RAM as NOR flash);
# - SEALMQ_QEMU is defined for the recipe's patches (transmit path, flash, clock).
import pinutils;
info = {
 'name' : "sealmq QEMU netduinoplus2 (STM32F405)",
 'link' :  [ "https://www.qemu.org/docs/master/system/arm/stm32.html" ],
 'default_console' : "EV_SERIAL1",
 'default_console_tx' : "A9",
 'default_console_rx' : "A10",
 'default_console_baudrate' : "115200",
 'variables' : 8000,
 'binary_name' : 'espruino_%v_sealmq_qemu.bin',
 'build' : {
   'optimizeflags' : '-O3',
   'libraries' : [
     'CRYPTO','SHA256','SHA512','AES',
   ],
   'makefile' : [
     'DEFINES+=-DSEALMQ_QEMU=1',
     'STLIB=STM32F407xx',
     'PRECOMPILED_OBJS+=$(ROOT)/targetlibs/stm32f4/lib/startup_stm32f40_41xxx.o'
   ]
  }
};

chip = {
  'part' : "STM32F407VGT6", # QEMU models an F405: the same die without Ethernet and camera,
  'family' : "STM32F4",
  'package' : "LQFP100",
  'ram' : 128,
  'flash' : 1024,
  'speed' : 168,
  'usart' : 6,
  'spi' : 3,
  'i2c' : 3,
  'adc' : 3,
  'dac' : 2,
  # Storage: the top 64 KB of QEMU's SRAM, in 4 KB pages (patch 0002).
  'saved_code' : {
    'address' : 0x20020000,
    'page_size' : 4096,
    'pages' : 16,
    'flash_available' : 1024
  },
};

devices = {
  'OSC' : { 'pin_1' : 'H0',
            'pin_2' : 'H1' },
  'OSC_RTC' : { 'pin_1' : 'C14',
                'pin_2' : 'C15' },
  'LED1' : { 'pin' : 'C10' },
  'BTN1' : { 'pin' : 'A0', 'pinstate' : 'IN_PULLDOWN' },
};

board = {
};

def get_pins():
  pins = pinutils.scan_pin_file([], 'stm32f40x.csv', 6, 9, 10)
  return pinutils.only_from_package(pinutils.fill_gaps_in_pin_list(pins), chip["package"])
