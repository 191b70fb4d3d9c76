import { t } from 'elysia'
import { MAX_STOCK } from '../db/schema.ts'
import { QueryParameters } from '../http/models.ts'
import {
  ChannelModel,
  Currency,
  CurrencyCode,
  JsonInteger,
  MAX_MINOR,
  MinorUnits,
  PageQuery,
  Text,
  Timestamp,
  Uuid,
} from '../shared/models.ts'

// A price sent as 12.99 is the usual first mistake: TypeBox's "Expected integer" does not say that
// the field counts cents, so the answer shows the conversion (Elysia's `error`, read by the
// error envelope for any value that fails: a float, a negative, a string, too large).
const PriceMinor = MinorUnits('unit price', {
  minimum: 0,
  maximum: MAX_MINOR,
  examples: [12500],
  error: `must be an integer number of minor units (cents) from 0 to ${MAX_MINOR}: 12.99 USD is 1299, not 12.99`,
})
const Stock = t.Union([JsonInteger({ minimum: 0, maximum: MAX_STOCK }), t.Null()], {
  description: 'units in stock; null = unlimited',
})

export const CreateProductBody = t.Object(
  {
    name: Text({ minLength: 1, maxLength: 200, examples: ['Sukuma wiki, 1 bunch'] }),
    priceMinor: PriceMinor,
    currency: Currency,
    stock: t.Optional(Stock),
  },
  { additionalProperties: false },
)

export const UpdateProductBody = t.Object(
  {
    name: t.Optional(Text({ minLength: 1, maxLength: 200 })),
    priceMinor: t.Optional(PriceMinor),
    stock: t.Optional(Stock),
    active: t.Optional(t.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
)

// Response models state `additionalProperties: false`: Elysia would otherwise set it on this shared
// object when a route using it as its response first compiles, changing /swagger/json with traffic
// (see ErrorEnvelopeModel in src/http/models.ts).
export const ProductModel = t.Object(
  {
    id: Uuid,
    name: t.String(),
    priceMinor: MinorUnits('unit price'),
    currency: CurrencyCode,
    stock: t.Union([JsonInteger(), t.Null()], { description: 'units in stock; null = unlimited' }),
    active: t.Boolean(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { description: 'A product', additionalProperties: false },
)

export const ProductListQuery = QueryParameters(PageQuery)

export const ViewQuery = QueryParameters({ channel: t.Optional(ChannelModel) })

export type ProductView = typeof ProductModel.static
export type CreateProduct = typeof CreateProductBody.static
export type UpdateProduct = typeof UpdateProductBody.static
