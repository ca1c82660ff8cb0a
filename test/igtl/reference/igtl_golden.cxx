// Prints, one per line as "<name> <hex>", messages packed by the OpenIGTLink reference
// library and CRC-64 values from its crc64(), for the golden-byte checks in interop.test.ts.

#include <cstdio>
#include <cstring>
#include <string>

#include "igtlImageMessage.h"
#include "igtlStatusMessage.h"
#include "igtlStringMessage.h"
#include "igtl_util.h"

static void printHex(const char* name, const void* data, int size)
{
  const unsigned char* bytes = static_cast<const unsigned char*>(data);
  std::printf("%s ", name);
  for (int i = 0; i < size; i++) std::printf("%02x", bytes[i]);
  std::printf("\n");
}

static void printCrc(const char* name, const char* text)
{
  igtl_uint64 crc = crc64((unsigned char*)text, std::strlen(text), 0ULL);
  std::printf("%s %016llx\n", name, (unsigned long long)crc);
}

int main()
{
  printCrc("CRC_CHECK", "123456789");
  printCrc("CRC_EMPTY", "");
  printCrc("CRC_TEXT", "OpenIGTLink CRC-64 over a longer ASCII text, 0123456789 abcdefghijklmnopqrstuvwxyz");

  // STATUS with every field set.
  igtl::StatusMessage::Pointer status = igtl::StatusMessage::New();
  status->SetDeviceName("Tracker");
  status->SetTimeStamp(1700000000, 0x80000000);
  status->SetCode(igtl::StatusMessage::STATUS_OK);
  status->SetSubCode(0x200);
  status->SetErrorName("OK");
  status->SetStatusString("all good");
  status->Pack();
  printHex("STATUS", status->GetPackPointer(), status->GetPackSize());

  // STRING in US-ASCII.
  igtl::StringMessage::Pointer text = igtl::StringMessage::New();
  text->SetDeviceName("Risk");
  text->SetTimeStamp(1700000001, 0x40000000);
  text->SetEncoding(3);
  text->SetString("frame_risk=0.500");
  text->Pack();
  printHex("STRING", text->GetPackPointer(), text->GetPackSize());

  // Empty-bodied query.
  igtl::GetStatusMessage::Pointer query = igtl::GetStatusMessage::New();
  query->SetDeviceName("Keepalive");
  query->SetTimeStamp(0, 0);
  query->Pack();
  printHex("GET_STATUS", query->GetPackPointer(), query->GetPackSize());

  // 4 x 3 uint8 image, little endian, LPS, rotated axes, spacing 0.5 x 0.25 x 2 mm.
  igtl::ImageMessage::Pointer image = igtl::ImageMessage::New();
  image->SetDeviceName("Probe");
  image->SetTimeStamp(1700000002, 0x00001000);
  image->SetDimensions(4, 3, 1);
  image->SetSpacing(0.5f, 0.25f, 2.0f);
  float t[3] = {0.0f, 1.0f, 0.0f};
  float s[3] = {-1.0f, 0.0f, 0.0f};
  float n[3] = {0.0f, 0.0f, 1.0f};
  image->SetNormals(t, s, n);
  image->SetOrigin(10.0f, -20.5f, 30.25f);
  image->SetScalarType(igtl::ImageMessage::TYPE_UINT8);
  image->SetEndian(igtl::ImageMessage::ENDIAN_LITTLE);
  image->SetCoordinateSystem(igtl::ImageMessage::COORDINATE_LPS);
  image->SetSubVolume(4, 3, 1, 0, 0, 0);
  image->AllocateScalars();
  unsigned char* pixels = static_cast<unsigned char*>(image->GetScalarPointer());
  for (int j = 0; j < 3; j++)
    for (int i = 0; i < 4; i++) pixels[j * 4 + i] = static_cast<unsigned char>(i + 10 * j);
  image->Pack();
  printHex("IMAGE_U8", image->GetPackPointer(), image->GetPackSize());

  // 3 x 2 int16 image, big endian pixel data, with a 2 x 1 subvolume at (1, 1).
  igtl::ImageMessage::Pointer sub = igtl::ImageMessage::New();
  sub->SetDeviceName("Sub");
  sub->SetTimeStamp(1, 0);
  sub->SetDimensions(3, 2, 1);
  sub->SetSpacing(1.0f, 1.0f, 1.0f);
  sub->SetOrigin(0.0f, 0.0f, 0.0f);
  sub->SetScalarType(igtl::ImageMessage::TYPE_INT16);
  sub->SetEndian(igtl::ImageMessage::ENDIAN_BIG);
  sub->SetSubVolume(2, 1, 1, 1, 1, 0);
  sub->AllocateScalars();
  unsigned char* subBytes = static_cast<unsigned char*>(sub->GetScalarPointer());
  const short values[2] = {-300, 1234};
  for (int p = 0; p < 2; p++) {
    unsigned short raw = static_cast<unsigned short>(values[p]);
    subBytes[2 * p] = static_cast<unsigned char>(raw >> 8);
    subBytes[2 * p + 1] = static_cast<unsigned char>(raw & 0xff);
  }
  sub->Pack();
  printHex("IMAGE_I16_SUB", sub->GetPackPointer(), sub->GetPackSize());
  return 0;
}
